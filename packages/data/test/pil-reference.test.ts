// The transforms against Pillow's own outputs (fixtures/make_pil_reference.py writes the JSON).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { RgbImage } from '../src/image.ts';
import { adjustBrightness, adjustContrast, adjustHue, adjustSaturation, gaussianBlur, grayscale, solarize } from '../src/transforms/photometric.ts';
import { resizePil } from '../src/transforms/resample.ts';

const ref = JSON.parse(readFileSync(new URL('./fixtures/pil-reference.json', import.meta.url), 'utf8')) as {
  size: [number, number];
  cases: Record<string, number[]>;
};
const [W, H] = ref.size;
const input = (): RgbImage => ({ width: W, height: H, data: Uint8Array.from(ref.cases.input) });

/** Largest absolute difference and how many values differ at all. */
function diff(got: Uint8Array, want: number[]): { max: number; count: number } {
  expect(got.length).toBe(want.length);
  let max = 0, count = 0;
  for (let i = 0; i < got.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    if (d) count++;
    max = Math.max(max, d);
  }
  return { max, count };
}

const inPlace = (f: (img: RgbImage) => void) => {
  const img = input();
  f(img);
  return img.data;
};

describe('transforms match Pillow', () => {
  it.each([
    ['bilinear_down', () => resizePil(input(), 'bilinear', { outW: 14, outH: 10 }).data],
    ['bilinear_up', () => resizePil(input(), 'bilinear', { outW: 39, outH: 29 }).data],
    ['bicubic_box', () => resizePil(input(), 'bicubic', { box: [3, 2, 20, 15], outW: 31, outH: 26 }).data],
    ['blur_0_7', () => inPlace((i) => gaussianBlur(i, 0.7))],
    ['blur_1_9', () => inPlace((i) => gaussianBlur(i, 1.9))],
    ['brightness_1_3', () => inPlace((i) => adjustBrightness(i, 1.3))],
    ['contrast_0_7', () => inPlace((i) => adjustContrast(i, 0.7))],
    ['saturation_1_15', () => inPlace((i) => adjustSaturation(i, 1.15))],
    ['gray', () => inPlace(grayscale)],
    ['solarize', () => inPlace((i) => solarize(i))],
  ] as const)('%s exactly', (name, run) => {
    expect(diff(run(), ref.cases[name])).toEqual({ max: 0, count: 0 });
  });

  it.each([
    ['hue_0_08', 0.08],
    ['hue_m0_05', -0.05],
  ] as const)('%s (HSV round trip)', (name, f) => {
    expect(diff(inPlace((i) => adjustHue(i, f)), ref.cases[name])).toEqual({ max: 0, count: 0 });
  });
});
