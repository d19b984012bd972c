import type { RgbImage } from '../image.ts';

/** ToTensor + Normalize: HWC uint8 -> CHW float32 ((v/255 - mean) / std), written at dst[offset..]. */
export function normalizeInto(img: RgbImage, dst: Float32Array, offset: number, mean: readonly number[], std: readonly number[]): void {
  const n = img.width * img.height;
  const d = img.data;
  for (let c = 0; c < 3; c++) {
    const s = 1 / (255 * std[c]);
    const m = mean[c] / std[c];
    const base = offset + c * n;
    for (let i = 0; i < n; i++) dst[base + i] = d[i * 3 + c] * s - m;
  }
}

/** Same for float CHW on a 0..255 scale, in place. */
export function normalizeCHW(x: Float32Array, mean: readonly number[], std: readonly number[]): void {
  const n = x.length / 3;
  for (let c = 0; c < 3; c++) {
    const s = 1 / (255 * std[c]);
    const m = mean[c] / std[c];
    for (let i = c * n; i < (c + 1) * n; i++) x[i] = x[i] * s - m;
  }
}
