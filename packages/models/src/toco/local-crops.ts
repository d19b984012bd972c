// ToCo's local views (utils/camutils.py: cam_to_roi_mask2, crop_from_roi_neg): windows around pixels that are not
// confident foreground, each flagged negative when the ROI inside it is mostly background. The plan runs on the
// host from the small ROI mask (one readback); the crops are GPU slices (cropWindows).
import { le, ge, max, scope, shapeError, type Tensor, TensorError, where } from '@seco/tensor';
import { getValidCam } from '../cam.ts';
import type { CropPlan } from '../crop-windows.ts';
import { torchRandpermPrefix } from '../torch-randperm.ts';

/**
 * cam_to_roi_mask2: with v the best CAM of the image's classes, 0 where v ≤ low, 2 where v ≥ high, 1 between
 * (uncertain). No img_box: ToCo applies none here. (B, H, W) i32.
 */
export function tocoRoiMask(cam: Tensor, clsLabel: Tensor, thr: { highThre: number; lowThre: number }): Tensor {
  return scope(() => {
    const v = max(getValidCam(cam, clsLabel), 1).values;
    return where(le(v, thr.lowThre), 0, where(ge(v, thr.highThre), 2, 1));
  });
}

export interface TocoCropPlan extends CropPlan {
  /** (B, cropNum + 2): 1 for the two global views and the positive crops, 0 for the negative ones. */
  flags: Int32Array;
}

export interface TocoCropOptions {
  /** Local crops per image (ToCo: 8). */
  cropNum: number;
  /** Crop side (ToCo: 96 at 448 crops). */
  cropSize: number;
  /** A crop is negative when Σ roi / cropSize² ≤ threshold (ToCo: 0.2; the roi values are 0, 1, 2). */
  threshold?: number;
  /** Seeds image i's permutation with seed + i (torch's manual_seed then randperm). */
  seed: number;
}

/**
 * crop_from_roi_neg per image i, with m = ⌊cropSize/2⌋: candidates are the interior (r, c) ∈ [m, H−m) × [m, W−m)
 * (row-major, interior coordinates) with roi ≤ 1, or every interior position when fewer than cropNum; the first
 * cropNum of a random permutation are the crops' top-left corners (so each crop is centred on its candidate).
 * ToCo draws the permutation from torch's global RNG; here image i uses torch's randperm seeded with seed + i,
 * so a run (and a resumed one) repeats exactly.
 */
export function planTocoCrops(roiMask: ArrayLike<number>, shape: readonly number[], o: TocoCropOptions): TocoCropPlan {
  const { cropNum, cropSize } = o;
  const threshold = o.threshold ?? 0.2;
  if (shape.length !== 3 || roiMask.length !== shape[0] * shape[1] * shape[2]) {
    throw new TensorError('planTocoCrops', `roi mask of ${roiMask.length} values does not match shape [${shape.join(', ')}] (B, H, W)`);
  }
  const [b, h, w] = shape;
  const m = Math.floor(cropSize / 2);
  const ih = h - 2 * m;
  const iw = w - 2 * m;
  if (!Number.isInteger(cropNum) || cropNum < 1 || !Number.isInteger(cropSize) || cropSize < 1 || ih <= 0 || iw <= 0 || ih * iw < cropNum) {
    throw new TensorError('planTocoCrops', `cannot place ${cropNum} crops of ${cropSize}×${cropSize} in a ${h}×${w} roi mask`);
  }
  const hw = h * w;
  const corners = new Int32Array(b * cropNum * 2);
  const flags = new Int32Array(b * (cropNum + 2)).fill(1);
  // torch: an integer sum divided by an int is float32, compared with the float32 of the threshold.
  const area = Math.fround(cropSize * cropSize);
  const thre = Math.fround(threshold);
  for (let i = 0; i < b; i++) {
    const base = i * hw;
    let cand: number[] = [];
    for (let r = 0; r < ih; r++) for (let c = 0; c < iw; c++) if (roiMask[base + (r + m) * w + c + m] <= 1) cand.push(r * iw + c);
    if (cand.length < cropNum) cand = Array.from({ length: ih * iw }, (_, k) => k);
    const pick = torchRandpermPrefix(cand.length, cropNum, (o.seed + i) >>> 0);
    for (let k = 0; k < cropNum; k++) {
      const h0 = Math.floor(cand[pick[k]] / iw);
      const w0 = cand[pick[k]] % iw;
      corners[(i * cropNum + k) * 2] = h0;
      corners[(i * cropNum + k) * 2 + 1] = w0;
      let s = 0;
      for (let r = h0; r < h0 + cropSize; r++) for (let c = w0; c < w0 + cropSize; c++) s += roiMask[base + r * w + c];
      if (Math.fround(Math.fround(s) / area) <= thre) flags[i * (cropNum + 2) + 2 + k] = 0;
    }
  }
  return { batch: b, cropNum, cropSize, corners, flags };
}

/** planTocoCrops on a GPU roi mask (B, H, W): one readback. */
export async function tocoCropPlan(roiMask: Tensor, o: TocoCropOptions): Promise<TocoCropPlan> {
  if (roiMask.rank !== 3) throw shapeError('planTocoCrops', 'needs a roi mask (B, H, W)', roiMask.shape);
  return planTocoCrops(await roiMask.data(), roiMask.shape, o);
}
