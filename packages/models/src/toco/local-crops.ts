// ToCo's local views (utils/camutils.py: cam_to_roi_mask2, crop_from_roi_neg): windows around pixels that are not
// confident foreground, each flagged negative when the ROI inside it is mostly background. The plan runs on the
// host from the small ROI mask (one readback); the crops are GPU slices (cropWindows).
import { le, ge, max, scope, shapeError, type Tensor, where } from '@seco/tensor';
import { getValidCam } from '../cam.ts';
import { cropGrid, drawCropCorners, windowMeanAtMost } from '../crop-corners.ts';
import type { CropPlan } from '../crop-windows.ts';

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
  const grid = cropGrid('planTocoCrops', 'crops', roiMask.length, shape, cropNum, cropSize);
  const { batch: b, height: h, width: w } = grid;
  const corners = new Int32Array(b * cropNum * 2);
  const flags = new Int32Array(b * (cropNum + 2)).fill(1);
  for (let i = 0; i < b; i++) {
    drawCropCorners(grid, i, cropNum, (p) => roiMask[p] <= 1, (o.seed + i) >>> 0, corners);
    for (let k = 0; k < cropNum; k++) {
      const at = (i * cropNum + k) * 2;
      if (windowMeanAtMost(roiMask, i * h * w, w, corners[at], corners[at + 1], cropSize, threshold)) flags[i * (cropNum + 2) + 2 + k] = 0;
    }
  }
  return { batch: b, cropNum, cropSize, corners, flags };
}

/** planTocoCrops on a GPU roi mask (B, H, W): one readback. */
export async function tocoCropPlan(roiMask: Tensor, o: TocoCropOptions): Promise<TocoCropPlan> {
  if (roiMask.rank !== 3) throw shapeError('planTocoCrops', 'needs a roi mask (B, H, W)', roiMask.shape);
  return planTocoCrops(await roiMask.data(), roiMask.shape, o);
}
