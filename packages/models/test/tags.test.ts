import { beforeAll, describe, expect, test } from 'vitest';
import { init, tensor } from '@seco/tensor';
import { cropWindows } from '../src/crop-windows.ts';
import { assignCscTags, planCscTags } from '../src/seco/tags.ts';
import { Mt19937, torchRandperm, torchRandpermPrefix } from '../src/torch-randperm.ts';
import { type FixtureTensor, loadJson } from '../../../test/support/fixtures.ts';

const fx = loadJson<Record<string, FixtureTensor>>('seco/seco_fixtures.json');

beforeAll(async () => {
  await init();
});

describe('PyTorch CPU randperm', () => {
  test('MT19937: seed 0 starts with 2357136044; seed 5489 gives 4123659995 as its 10000th output (C++ [rand.predef])', () => {
    expect(new Mt19937(0).nextUint32()).toBe(2357136044);
    const g = new Mt19937(5489);
    let v = 0;
    for (let i = 0; i < 10000; i++) v = g.nextUint32();
    expect(v).toBe(4123659995);
  });

  test('the prefix form equals the full permutation, which is a permutation', () => {
    for (const n of [1, 2, 7, 444, 5000]) {
      const full = torchRandperm(n);
      expect([...full].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
      expect(Array.from(torchRandpermPrefix(n, 10))).toEqual(Array.from(full.subarray(0, 10)));
    }
  });
});

describe('assign_csc_tags against seco_fixtures tags.*', () => {
  const roi = fx['tags.roi_mask'];
  const corners = fx['tags.crop_corners_h0w0'];
  const [b, h, w] = roi.shape;
  const cropNum = corners.shape[1];
  const cropSize = 16; // fixtures README §3.3: assign_csc_tags(..., crop_size=16, threshold=0.2)

  test('corners (torch.manual_seed(0) + randperm) and flags', () => {
    const plan = planCscTags(roi.data as number[], roi.shape, { cropNum, cropSize, threshold: 0.2 });
    expect(Array.from(plan.corners)).toEqual(corners.data);
    expect(Array.from(plan.flags)).toEqual(fx['tags.flags'].data);
  });

  test('crops are the windows of the coordinate-encoded image (channel 0 = row, 1 = column, 2 = 0)', async () => {
    const img = new Float32Array(b * 3 * h * w);
    for (let i = 0; i < b; i++) {
      for (let r = 0; r < h; r++) {
        for (let c = 0; c < w; c++) {
          img[((i * 3 + 0) * h + r) * w + c] = r;
          img[((i * 3 + 1) * h + r) * w + c] = c;
        }
      }
    }
    const images = tensor(img, [b, 3, h, w]);
    const roiT = tensor(roi.data as number[], roi.shape, 'i32');
    const { crops, flags } = await assignCscTags(images, roiT, { cropNum, cropSize, threshold: 0.2 });
    expect(crops.length).toBe(cropNum);
    expect(Array.from(await flags.data())).toEqual(fx['tags.flags'].data);
    const cd = corners.data as number[];
    for (let k = 0; k < cropNum; k++) {
      expect(crops[k].shape).toEqual([b, 3, cropSize, cropSize]);
      const d = await crops[k].data();
      for (let i = 0; i < b; i++) {
        const [h0, w0] = [cd[(i * cropNum + k) * 2], cd[(i * cropNum + k) * 2 + 1]];
        const px = (ch: number, r: number, c: number) => d[((i * 3 + ch) * cropSize + r) * cropSize + c];
        expect([px(0, 0, 0), px(1, 0, 0), px(0, cropSize - 1, 3), px(1, 5, cropSize - 1), px(2, 7, 7)]).toEqual([h0, w0, h0 + cropSize - 1, w0 + cropSize - 1, 0]);
      }
    }
    for (const t of [images, roiT, flags, ...crops]) t.dispose();
  });
});

/** One image, 24×24, with an uncertain block so every window is centred on it; `fill` writes the rest. */
function roiWith(fill: (r: number, c: number) => number): number[] {
  return Array.from({ length: 24 * 24 }, (_, p) => fill(Math.floor(p / 24), p % 24));
}

describe('assign_csc_tags quirks (§8)', () => {
  const opts = { cropNum: 2, cropSize: 8, threshold: 0.2 };

  test('the background test sums class ids (§8 #2): one column of class 1 is background, of class 15 is not', () => {
    // No uncertain pixels: windows are drawn from all interior positions, the same for both masks. A window
    // crossing column 11 holds 8 class pixels: 8·1/64 ≤ 0.2 but 8·15/64 > 0.2.
    const o = { ...opts, cropNum: 6 };
    const p1 = planCscTags(roiWith((_, c) => (c === 11 ? 1 : 0)), [1, 24, 24], o);
    const p15 = planCscTags(roiWith((_, c) => (c === 11 ? 15 : 0)), [1, 24, 24], o);
    expect(Array.from(p1.corners)).toEqual(Array.from(p15.corners));
    const crossing = Array.from({ length: 6 }, (_, k) => p1.corners[2 * k + 1] <= 11 && 11 < p1.corners[2 * k + 1] + 8);
    expect(crossing.some((x) => x) && !crossing.every((x) => x)).toBe(true);
    expect(Array.from(p1.flags)).toEqual([1, 1, 0, 0, 0, 0, 0, 0]);
    expect(Array.from(p15.flags)).toEqual([15, 15, ...crossing.map((x) => (x ? 15 : 0))]);
  });

  test('global flags default to 1 without confident foreground (§8 #4); all-uncertain windows are ambiguous', () => {
    const none = planCscTags(roiWith(() => -1), [1, 24, 24], opts);
    expect(Array.from(none.flags)).toEqual([1, 1, -1, -1]);
  });

  test('one confident class relabels the uncertain pixels (windows tag it); two classes make everything −1', () => {
    const block = (r: number, c: number) => r >= 8 && r < 16 && c >= 8 && c < 16;
    const one = planCscTags(roiWith((r, c) => (block(r, c) ? -1 : r === 0 ? 3 : c === 0 ? 255 : 0)), [1, 24, 24], opts);
    expect(Array.from(one.flags)).toEqual([3, 3, 3, 3]);
    // Every window is centred on the block (top-left = uncertain pixel in interior coordinates).
    for (let k = 0; k < 2; k++) expect(block(one.corners[2 * k] + 4, one.corners[2 * k + 1] + 4)).toBe(true);
    const two = planCscTags(roiWith((r, c) => (block(r, c) ? -1 : r === 0 ? 2 : r === 23 ? 5 : 0)), [1, 24, 24], opts);
    expect(Array.from(two.flags)).toEqual([-1, -1, -1, -1]);
  });

  test('bad input is named', () => {
    expect(() => planCscTags(new Int32Array(10), [1, 4, 4], opts)).toThrow(/assignCscTags.*10 values.*\[1, 4, 4\]/);
    expect(() => planCscTags(new Int32Array(64), [1, 8, 8], opts)).toThrow(/cannot place 2 windows of 8×8 in a 8×8/);
    const img = tensor(new Float32Array(3 * 8 * 8), [1, 3, 8, 8]);
    const plan = planCscTags(roiWith(() => 0), [1, 24, 24], opts);
    expect(() => cropWindows(img, plan)).toThrow(/cropWindows.*past the images.*\[1, 3, 8, 8\]/);
    img.dispose();
  });
});
