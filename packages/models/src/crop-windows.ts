// Local crops cut on the GPU from a batch at host-planned corners: SeCo's tagged windows and ToCo's local views
// are both slices of a (B, C, H, W) view at corners a host plan chose from a read-back ROI mask.
import { concat, scope, shapeError, type Tensor } from '@seco/tensor';

/** Where a step's local crops sit: cropNum windows of cropSize² per image. */
export interface CropPlan {
  batch: number;
  cropNum: number;
  cropSize: number;
  /** Top-left [h0, w0] of every window, (B, cropNum, 2) row-major. */
  corners: Int32Array;
}

/** The windows as cropNum tensors (B, C, cropSize, cropSize), sliced on the GPU from images (B, C, H, W). */
export function cropWindows(images: Tensor, plan: CropPlan): Tensor[] {
  const { batch, cropNum, cropSize: s, corners } = plan;
  if (images.rank !== 4 || images.shape[0] !== batch) throw shapeError('cropWindows', `needs images (${batch}, C, H, W)`, images.shape);
  let hMax = 0;
  let wMax = 0;
  for (let k = 0; k < corners.length; k += 2) {
    hMax = Math.max(hMax, corners[k] + s);
    wMax = Math.max(wMax, corners[k + 1] + s);
  }
  if (hMax > images.shape[2] || wMax > images.shape[3]) throw shapeError('cropWindows', `windows reach ${hMax}×${wMax}, past the images`, images.shape);
  return Array.from({ length: cropNum }, (_, k) =>
    scope(() => {
      const at = (i: number) => corners.subarray((i * cropNum + k) * 2, (i * cropNum + k) * 2 + 2);
      const parts = Array.from({ length: batch }, (_, i) => images.slice([[i, i + 1], null, [at(i)[0], at(i)[0] + s], [at(i)[1], at(i)[1] + s]]));
      return concat(parts, 0);
    }),
  );
}
