// Palette/grayscale PNG to raw indices without node:* (browsers): chunks and CRCs checked, zlib through fflate,
// the five row filters, 1/2/4/8-bit samples, Adam7. The same numbers as png.ts (pngjs) in Node; tested on the
// VOC masks. 16-bit and colour PNGs are refused, as there.
import { unzlibSync } from 'fflate';
import { DataError } from '../errors.ts';
import type { IndexMap } from '../image.ts';

export interface IndexPng extends IndexMap {
  /** RGBA entries of the PLTE chunk, if any. */
  palette: number[][] | null;
}

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

let crcTable: Uint32Array | null = null;
function crc32(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = crcTable[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const paeth = (a: number, b: number, c: number) => {
  const p = a + b - c;
  const pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
};

/** Unfilters `rows` rows of `rowBytes` (without the filter byte) from `src` at `pos`, writing samples via `put`. */
function unfilter(src: Uint8Array, pos: number, rows: number, rowBytes: number, bpp: number): { data: Uint8Array; end: number } {
  const out = new Uint8Array(rows * rowBytes);
  for (let y = 0; y < rows; y++) {
    if (pos + 1 + rowBytes > src.length) throw new Error('image data ends early');
    const f = src[pos++];
    const row = y * rowBytes;
    const up = row - rowBytes;
    for (let x = 0; x < rowBytes; x++) {
      const raw = src[pos + x];
      const a = x >= bpp ? out[row + x - bpp] : 0;
      const b = y > 0 ? out[up + x] : 0;
      const c = x >= bpp && y > 0 ? out[up + x - bpp] : 0;
      let v: number;
      if (f === 0) v = raw;
      else if (f === 1) v = raw + a;
      else if (f === 2) v = raw + b;
      else if (f === 3) v = raw + ((a + b) >> 1);
      else if (f === 4) v = raw + paeth(a, b, c);
      else throw new Error(`unknown filter type ${f} in row ${y}`);
      out[row + x] = v & 0xff;
    }
    pos += rowBytes;
  }
  return { data: out, end: pos };
}

function sample(row: Uint8Array, offset: number, x: number, depth: number): number {
  if (depth === 8) return row[offset + x];
  const bit = x * depth;
  return (row[offset + (bit >> 3)] >> (8 - depth - (bit & 7))) & ((1 << depth) - 1);
}

const ADAM7: readonly [number, number, number, number][] = [
  [0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2],
];

/** Decodes an 8-bit-or-less palette or grayscale PNG to its raw indices. */
export function decodeIndexPng(bytes: Uint8Array, file: string): IndexPng {
  const fail = (why: string): never => {
    throw new DataError(file, `corrupt PNG: ${why}`);
  };
  if (bytes.length < 8 || SIGNATURE.some((b, i) => bytes[i] !== b)) fail('not a PNG (bad signature)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 8;
  let ihdr: { width: number; height: number; depth: number; colorType: number; interlace: number } | null = null;
  let palette: number[][] | null = null;
  const idat: Uint8Array[] = [];
  let ended = false;
  while (!ended) {
    if (pos + 12 > bytes.length) fail('file ends before IEND');
    const len = view.getUint32(pos);
    const type = String.fromCharCode(...bytes.subarray(pos + 4, pos + 8));
    if (pos + 12 + len > bytes.length) fail(`chunk ${type} runs past the end of the file`);
    const body = bytes.subarray(pos + 8, pos + 8 + len);
    if (crc32(bytes.subarray(pos + 4, pos + 8 + len)) !== view.getUint32(pos + 8 + len)) fail(`CRC mismatch in chunk ${type}`);
    if (type === 'IHDR') {
      const d = new DataView(body.buffer, body.byteOffset, body.byteLength);
      if (len !== 13) fail('IHDR of the wrong length');
      ihdr = { width: d.getUint32(0), height: d.getUint32(4), depth: body[8], colorType: body[9], interlace: body[12] };
    } else if (type === 'PLTE') {
      palette = [];
      for (let i = 0; i + 2 < len; i += 3) palette.push([body[i], body[i + 1], body[i + 2], 255]);
    } else if (type === 'tRNS' && palette) {
      for (let i = 0; i < len && i < palette.length; i++) palette[i][3] = body[i];
    } else if (type === 'IDAT') idat.push(body);
    else if (type === 'IEND') ended = true;
    pos += 12 + len;
  }
  if (!ihdr) return fail('no header');
  const { width, height, depth, colorType, interlace } = ihdr;
  if ((colorType !== 0 && colorType !== 3) || depth > 8) {
    throw new DataError(file, `a mask must be an 8-bit palette or grayscale PNG, got colour type ${colorType} at ${depth} bits`);
  }
  if (width === 0 || height === 0 || ![1, 2, 4, 8].includes(depth)) fail(`bad header (${width}x${height}, ${depth} bits)`);
  let inflated: Uint8Array;
  try {
    const all = new Uint8Array(idat.reduce((n, c) => n + c.length, 0));
    let o = 0;
    for (const c of idat) {
      all.set(c, o);
      o += c.length;
    }
    inflated = unzlibSync(all);
  } catch (e) {
    return fail(`image data does not inflate: ${(e as Error).message}`);
  }
  const data = new Uint8Array(width * height);
  try {
    const passes: [number, number, number, number][] = interlace ? [...ADAM7] : [[0, 0, 1, 1]];
    let p = 0;
    for (const [x0, y0, dx, dy] of passes) {
      const pw = Math.ceil((width - x0) / dx);
      const ph = Math.ceil((height - y0) / dy);
      if (pw <= 0 || ph <= 0) continue;
      const rowBytes = (pw * depth + 7) >> 3;
      const { data: rows, end } = unfilter(inflated, p, ph, rowBytes, 1);
      p = end;
      for (let y = 0; y < ph; y++) for (let x = 0; x < pw; x++) data[(y0 + y * dy) * width + x0 + x * dx] = sample(rows, y * rowBytes, x, depth);
    }
  } catch (e) {
    return fail((e as Error).message);
  }
  return { width, height, data, palette };
}
