// What is wrong with an image file, read from its bytes alone: the fallback reason when the decoder lost its own
// (libvips keeps one error buffer per process, which any concurrent decode clears; see decode-node.ts).

function lastIndexOfPair(b: Uint8Array, x: number, y: number, from = b.length - 2): number {
  for (let i = from; i >= 0; i--) if (b[i] === x && b[i + 1] === y) return i;
  return -1;
}

function hasAscii(b: Uint8Array, s: string): boolean {
  outer: for (let i = b.length - s.length; i >= 0; i--) {
    for (let k = 0; k < s.length; k++) if (b[i + k] !== s.charCodeAt(k)) continue outer;
    return true;
  }
  return false;
}

/** A sentence on why `bytes` cannot be a complete JPEG or PNG, or null when the structure looks whole. */
export function describeDamage(bytes: Uint8Array): string | null {
  const n = bytes.length;
  if (n === 0) return 'the file is empty';
  if (n >= 2 && bytes[0] === 0xff && bytes[1] === 0xd8) {
    // The last start-of-scan begins the main image's entropy-coded data, in which 0xFF bytes are stuffed, so an
    // end-of-image marker after it can only be the real one (an EXIF thumbnail's own markers come earlier).
    const sos = lastIndexOfPair(bytes, 0xff, 0xda);
    if (sos < 0) return `JPEG data ends after ${n} bytes before any image data (no start-of-scan marker): the file is truncated`;
    if (lastIndexOfPair(bytes, 0xff, 0xd9) < sos) return `JPEG data ends after ${n} bytes without its end-of-image marker: the file is truncated`;
    return null;
  }
  if (n >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) {
    return hasAscii(bytes, 'IEND') ? null : `PNG data ends after ${n} bytes without its IEND chunk: the file is truncated`;
  }
  const head = [...bytes.subarray(0, 4)].map((v) => v.toString(16).padStart(2, '0')).join(' ');
  return `not a JPEG or PNG (the file starts with bytes ${head})`;
}
