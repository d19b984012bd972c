import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeImage } from '../src/codecs/decode-node.ts';
import type { RgbImage } from '../src/image.ts';
import { Rng } from '../src/rng.ts';
import { augConfig } from '../src/transforms/config.ts';
import { normalizeInto } from '../src/transforms/normalize.ts';
import { adjustBrightness, adjustContrast, adjustHue, gaussianBlur, grayscale, hflip, solarize } from '../src/transforms/photometric.ts';
import { resizeBilinearTorchCHW, resizePil } from '../src/transforms/resample.ts';
import { applyCrop, applyCropMask, drawCrop, drawResizedCrop, secoViews } from '../src/transforms/seco.ts';
import { vocRoot } from './helpers.ts';

function randomImage(w: number, h: number, seed: number): RgbImage {
  const r = new Rng(seed);
  return { width: w, height: h, data: Uint8Array.from({ length: w * h * 3 }, () => r.int(256)) };
}
const px = (img: RgbImage, x: number, y: number) => [...img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3)];

describe('PIL-style resampling', () => {
  it('antialiases a 2x bilinear downscale as PIL does (hand-computed)', () => {
    const img: RgbImage = { width: 4, height: 1, data: Uint8Array.from([0, 100, 200, 255].flatMap((v) => [v, v, v])) };
    const out = resizePil(img, 'bilinear', { outW: 2, outH: 1 });
    // out0 = (0*.75 + 100*.75 + 200*.25) / 1.75 = 71.4; out1 = (100*.25 + 200*.75 + 255*.75) / 1.75 = 209.3
    expect(px(out, 0, 0)).toEqual([71, 71, 71]);
    expect(px(out, 1, 0)).toEqual([209, 209, 209]);
  });

  it('keeps an image at its own size and computes windows equal to the full result', () => {
    const img = randomImage(31, 17, 1);
    expect(Buffer.from(resizePil(img, 'bilinear', { outW: 31, outH: 17 }).data).equals(Buffer.from(img.data))).toBe(true);
    for (const filter of ['bilinear', 'bicubic'] as const) {
      const box: [number, number, number, number] = [3, 2, 29, 15];
      const full = resizePil(img, filter, { box, outW: 50, outH: 23 });
      const win = resizePil(img, filter, { box, outW: 50, outH: 23, x: 7, y: 5, w: 20, h: 11 });
      for (let y = 0; y < 11; y++) for (let x = 0; x < 20; x++) expect(px(win, x, y)).toEqual(px(full, x + 7, y + 5));
    }
  });

  it('matches torch bilinear (align_corners=False) for evaluation resizing', () => {
    const img: RgbImage = { width: 2, height: 2, data: Uint8Array.from([0, 10, 20, 30].flatMap((v) => [v, v, v])) };
    const out = resizeBilinearTorchCHW(img, 4, 4);
    expect([...out.subarray(0, 4)]).toEqual([0, 2.5, 7.5, 10]);
    expect([...out.subarray(12, 16)]).toEqual([20, 22.5, 27.5, 30]);
  });
});

describe('photometric ops', () => {
  it('solarizes, grays and flips like PIL', () => {
    const img: RgbImage = { width: 2, height: 1, data: Uint8Array.from([10, 128, 255, 200, 100, 50]) };
    const s = { ...img, data: img.data.slice() };
    solarize(s);
    expect([...s.data]).toEqual([10, 127, 0, 55, 100, 50]);
    const g = { ...img, data: img.data.slice() };
    grayscale(g);
    expect(px(g, 0, 0)).toEqual([107, 107, 107]); // (10*19595 + 128*38470 + 255*7471 + 32768) >> 16
    expect(px(hflip(img), 0, 0)).toEqual([200, 100, 50]);
  });

  it('blends brightness and contrast with truncation', () => {
    const img: RgbImage = { width: 2, height: 1, data: Uint8Array.from([100, 100, 100, 200, 200, 200]) };
    const b = { ...img, data: img.data.slice() };
    adjustBrightness(b, 1.5);
    expect([...b.data]).toEqual([150, 150, 150, 255, 255, 255]);
    const c = { ...img, data: img.data.slice() };
    adjustContrast(c, 0);
    expect([...c.data]).toEqual([150, 150, 150, 150, 150, 150]);
  });

  it('shifts hue but leaves grays alone', () => {
    const img: RgbImage = { width: 2, height: 1, data: Uint8Array.from([200, 30, 30, 90, 90, 90]) };
    adjustHue(img, 1 / 3);
    expect(px(img, 1, 0)).toEqual([90, 90, 90]);
    const [r, g, b] = px(img, 0, 0);
    expect(g).toBeGreaterThan(r); // red turned green
    expect(g).toBeGreaterThan(b);
  });

  it('blurs: constant stays constant, noise loses variance, mean is kept', () => {
    const flat: RgbImage = { width: 20, height: 20, data: new Uint8Array(1200).fill(77) };
    gaussianBlur(flat, 1.5);
    expect(flat.data.every((v) => v === 77)).toBe(true);
    const img = randomImage(40, 40, 3);
    const before = img.data.slice();
    gaussianBlur(img, 2);
    const mean = (a: Uint8Array) => a.reduce((s, v) => s + v, 0) / a.length;
    const varOf = (a: Uint8Array) => a.reduce((s, v) => s + (v - mean(a)) ** 2, 0) / a.length;
    expect(Math.abs(mean(img.data) - mean(before))).toBeLessThan(2);
    expect(varOf(img.data)).toBeLessThan(varOf(before) / 5);
  });
});

describe('SeCo crop geometry', () => {
  const cfg = augConfig({ cropSize: 64, scaleRange: [1, 1] });

  it('pads a small image with black and marks it with img_box', () => {
    const img = randomImage(30, 20, 5);
    for (let seed = 0; seed < 20; seed++) {
      const p = drawCrop(30, 20, cfg, new Rng(seed));
      const [t, b, l, r] = p.imgBox;
      expect([b - t, r - l]).toEqual([20, 30]);
      expect(t).toBe(p.padY - p.startY);
      const crop = applyCrop(img, p, 64);
      for (let y = 0; y < 64; y++) {
        for (let x = 0; x < 64; x++) {
          const inside = y >= t && y < b && x >= l && x < r;
          if (!inside) expect(px(crop, x, y)).toEqual([0, 0, 0]);
          else expect(px(crop, x, y)).toEqual(px(img, p.flip ? 29 - (x - l) : x - l, y - t));
        }
      }
    }
  });

  it('covers the whole crop when the scaled image is larger, window of the scaled and flipped image', () => {
    const img = randomImage(100, 80, 6);
    const big = augConfig({ cropSize: 48, scaleRange: [1.3, 1.7] });
    for (let seed = 0; seed < 10; seed++) {
      const p = drawCrop(100, 80, big, new Rng(seed));
      expect(p.imgBox).toEqual([0, 48, 0, 48]);
      const full = resizePil(img, 'bilinear', { outW: p.scaledW, outH: p.scaledH });
      const scaled = p.flip ? hflip(full) : full;
      const crop = applyCrop(img, p, 48);
      for (const [x, y] of [[0, 0], [47, 0], [13, 29], [47, 47]]) expect(px(crop, x, y)).toEqual(px(scaled, x + p.startX, y + p.startY));
    }
  });

  it('crops masks with the same geometry, 255 outside the image', () => {
    const mask = { width: 30, height: 20, data: Uint8Array.from({ length: 600 }, (_, i) => i % 21) };
    const p = drawCrop(30, 20, cfg, new Rng(3));
    const m = applyCropMask(mask, p, 64);
    const [t, , l] = p.imgBox;
    expect(m.data[0 + 0]).toBe(t > 0 || l > 0 ? 255 : mask.data[0]);
    const x = 5, y = 7;
    expect(m.data[(t + y) * 64 + l + x]).toBe(mask.data[y * 30 + (p.flip ? 29 - x : x)]);
  });

  it('draws RandomResizedCrop boxes inside the image with area 0.4..1', () => {
    const r = new Rng(9);
    for (let i = 0; i < 200; i++) {
      const [top, left, h, w] = drawResizedCrop(500, 375, [0.4, 1], [3 / 4, 4 / 3], r);
      expect(top + h).toBeLessThanOrEqual(375);
      expect(left + w).toBeLessThanOrEqual(500);
      expect((h * w) / (500 * 375)).toBeGreaterThan(0.39);
    }
  });
});

describe('SeCo views', () => {
  it('are a pure function of the seed, at the configured size, normalised with ImageNet stats', async () => {
    const f = join(vocRoot, 'JPEGImages', '2007_000032.jpg');
    const img = await decodeImage(readFileSync(f), f);
    const cfg = augConfig({ cropSize: 96 });
    const a = secoViews(img, cfg, new Rng(11));
    const b = secoViews(img, cfg, new Rng(11));
    const c = secoViews(img, cfg, new Rng(12));
    for (const k of ['crop', 'strong', 'global2'] as const) {
      expect(a[k].width).toBe(96);
      expect(Buffer.from(a[k].data).equals(Buffer.from(b[k].data))).toBe(true);
    }
    expect(a.imgBox).toEqual(b.imgBox);
    expect(Buffer.from(a.global2.data).equals(Buffer.from(c.global2.data))).toBe(false);
    const out = new Float32Array(3 * 96 * 96);
    normalizeInto({ width: 96, height: 96, data: new Uint8Array(96 * 96 * 3) }, out, 0, cfg.mean, cfg.std);
    expect(out[0]).toBeCloseTo(-0.485 / 0.229, 5);
    expect(out[96 * 96 * 2]).toBeCloseTo(-0.406 / 0.225, 5);
  });

  it('rejects unknown configuration keys', () => {
    expect(() => augConfig({ local: { blurr: 1 } } as never)).toThrow(/unknown key "blurr"/);
  });
});
