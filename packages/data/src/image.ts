/** 8-bit RGB, row-major, channels interleaved (HWC), as decoders and PIL hand it out. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** Single-channel class indices: 0 background, 1..C classes, 255 ignore. */
export interface IndexMap {
  width: number;
  height: number;
  data: Uint8Array;
}

export function rgbImage(width: number, height: number, data?: Uint8Array): RgbImage {
  const d = data ?? new Uint8Array(width * height * 3);
  if (d.length !== width * height * 3) throw new Error(`RGB buffer of ${d.length} bytes for ${width}x${height}`);
  return { width, height, data: d };
}
