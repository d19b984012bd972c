// assign_csc_tags (SeCo utils/camutils.py): local windows around uncertain pixels and their class tags.
// The tag logic runs on the host: the ROI mask is small integer data, read back once per training step.
// The crops themselves are GPU slices of the image tensor.
import { shapeError, tensor, type Tensor } from '@seco/tensor';
import { cropGrid, drawCropCorners, windowMeanAtMost } from '../crop-corners.ts';
import { type CropPlan, cropWindows } from '../crop-windows.ts';

export interface CscTagOptions {
  /** Windows per image (SeCo: ncrops − 2 = 10). */
  cropNum?: number;
  /** Window side (SeCo: 64). */
  cropSize?: number;
  /** A window is background when Σ roi_un / cropSize² ≤ threshold (a sum of class ids, §8 #2). */
  threshold?: number;
}

export const CSC_TAG_DEFAULTS = { cropNum: 10, cropSize: 64, threshold: 0.2 } as const;

export interface CscTagPlan extends CropPlan {
  /** Tags (B, cropNum + 2): two global views, then the windows. 0 background, c ≥ 1 one class, −1 ambiguous. */
  flags: Int32Array;
}

/** Distinct nonzero values of `roi` over rows [r0, r0+hh) and columns [c0, c0+ww) of an h×w plane at `base`. */
function classesIn(roi: Int32Array, base: number, w: number, r0: number, c0: number, hh: number, ww: number): Set<number> {
  const s = new Set<number>();
  for (let r = r0; r < r0 + hh; r++) for (let c = c0; c < c0 + ww; c++) if (roi[base + r * w + c] !== 0) s.add(roi[base + r * w + c]);
  return s;
}

/**
 * The reference per image i, with m = ⌊cropSize/2⌋:
 *  - roi_ = roi with 255 → 0; roi = roi_ with −1 → 0; roi_un = roi + [roi_ == −1];
 *  - candidates: interior (r, c) ∈ [m, H−m) × [m, W−m) (in interior coordinates, row-major) where roi_ < 0, or
 *    every interior position when fewer than cropNum; torch.manual_seed(0); randperm(#candidates)[:cropNum];
 *    a candidate (r, c) is the window's top-left, so the window is centred on the uncertain pixel;
 *  - global flags: −1 for ≥ 2 confident classes; c for one (and then the uncertain pixels of roi become c);
 *    left at 1 for none (§8 #4);
 *  - window flags: 0 if Σ roi_un / cropSize² ≤ threshold (float32, as torch), else the single nonzero class
 *    of roi in the window, else −1.
 */
export function planCscTags(roiMask: ArrayLike<number>, shape: readonly number[], options: CscTagOptions = {}): CscTagPlan {
  const { cropNum, cropSize, threshold } = { ...CSC_TAG_DEFAULTS, ...options };
  const grid = cropGrid('assignCscTags', 'windows', roiMask.length, shape, cropNum, cropSize);
  const { batch: b, height: h, width: w } = grid;
  const hw = h * w;
  const roiU = new Int32Array(b * hw); // roi_: 255 removed, −1 kept
  const roi = new Int32Array(b * hw); // −1 removed too
  const roiUn = new Int32Array(b * hw);
  for (let i = 0; i < roiU.length; i++) {
    const v = roiMask[i] === 255 ? 0 : roiMask[i];
    roiU[i] = v;
    roi[i] = v === -1 ? 0 : v;
    roiUn[i] = roi[i] + (v === -1 ? 1 : 0);
  }
  const corners = new Int32Array(b * cropNum * 2);
  const flags = new Int32Array(b * (cropNum + 2)).fill(1);
  for (let i = 0; i < b; i++) {
    const base = i * hw;
    const global = classesIn(roi, base, w, 0, 0, h, w);
    const f = i * (cropNum + 2);
    if (global.size >= 2) flags[f] = flags[f + 1] = -1;
    else if (global.size === 1) {
      const cls = [...global][0];
      flags[f] = flags[f + 1] = cls;
      for (let p = base; p < base + hw; p++) if (roiU[p] === -1) roi[p] = cls;
    }
    // Candidates read roi_, which the global flags leave as it is.
    drawCropCorners(grid, i, cropNum, (p) => roiU[p] < 0, 0, corners);
    for (let k = 0; k < cropNum; k++) {
      const h0 = corners[(i * cropNum + k) * 2];
      const w0 = corners[(i * cropNum + k) * 2 + 1];
      if (windowMeanAtMost(roiUn, base, w, h0, w0, cropSize, threshold)) flags[f + 2 + k] = 0;
      else {
        const inWin = classesIn(roi, base, w, h0, w0, cropSize, cropSize);
        flags[f + 2 + k] = inWin.size === 1 ? [...inWin][0] : -1;
      }
    }
  }
  return { batch: b, cropNum, cropSize, corners, flags };
}

/**
 * assign_csc_tags(images, roi_mask): reads the (B, H, W) ROI mask back (one readback), plans the windows and
 * tags, and slices the crops. SeCo calls it twice per step with the same mask (the strong view and the raw
 * image) and gets identical windows because of manual_seed(0); do that with one planCscTags/cscTagPlan and two
 * cropWindows calls. flags is (B, cropNum + 2) i32.
 */
export async function assignCscTags(images: Tensor, roiMask: Tensor, options: CscTagOptions = {}): Promise<{ crops: Tensor[]; flags: Tensor; plan: CscTagPlan }> {
  const plan = await cscTagPlan(roiMask, options);
  return { crops: cropWindows(images, plan), flags: tensor(plan.flags, [plan.batch, plan.cropNum + 2], 'i32'), plan };
}

/** planCscTags on a GPU roi mask (B, H, W): one readback. */
export async function cscTagPlan(roiMask: Tensor, options: CscTagOptions = {}): Promise<CscTagPlan> {
  if (roiMask.rank !== 3) throw shapeError('assignCscTags', 'needs a roi mask (B, H, W)', roiMask.shape);
  return planCscTags(await roiMask.data(), roiMask.shape, options);
}
