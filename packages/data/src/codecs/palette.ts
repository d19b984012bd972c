// The VOC colour map, shared by the Node and browser codecs and by pictures.
/** The standard PASCAL VOC colour map (bit-interleaved), 256 RGB entries. */
export function vocPalette(): Uint8Array {
  const p = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    let r = 0, g = 0, b = 0, c = i;
    for (let j = 0; j < 8; j++) {
      r |= ((c >> 0) & 1) << (7 - j);
      g |= ((c >> 1) & 1) << (7 - j);
      b |= ((c >> 2) & 1) << (7 - j);
      c >>= 3;
    }
    p.set([r, g, b], i * 3);
  }
  return p;
}
