// Where local crops go, planned on the host from a read-back (B, H, W) ROI mask: SeCo's tagged windows and ToCo's
// local views both centre cropSize² windows on interior pixels drawn with torch's randperm, and judge a window by
// the float32 mean of a map over it, as the originals' torch code computes it.
import { TensorError } from '@seco/tensor';
import { torchRandpermPrefix } from './torch-randperm.ts';

/** A (B, H, W) mask and its interior [m, H−m) × [m, W−m), m = ⌊cropSize/2⌋: where a centred crop fits. */
export interface CropGrid {
  batch: number;
  height: number;
  width: number;
  margin: number;
  /** The interior's rows and columns. */
  rows: number;
  cols: number;
}

/**
 * The grid of a mask of `maskLength` values shaped (B, H, W); throws unless it matches and cropNum crops of
 * cropSize² fit in its interior. `op` and `what` ("windows", "crops") name the caller and its crops in the errors.
 */
export function cropGrid(op: string, what: string, maskLength: number, shape: readonly number[], cropNum: number, cropSize: number): CropGrid {
  if (shape.length !== 3 || maskLength !== shape[0] * shape[1] * shape[2]) {
    throw new TensorError(op, `roi mask of ${maskLength} values does not match shape [${shape.join(', ')}] (B, H, W)`);
  }
  const [batch, height, width] = shape;
  const margin = Math.floor(cropSize / 2);
  const rows = height - 2 * margin;
  const cols = width - 2 * margin;
  if (!Number.isInteger(cropNum) || cropNum < 1 || !Number.isInteger(cropSize) || cropSize < 1 || rows <= 0 || cols <= 0 || rows * cols < cropNum) {
    throw new TensorError(op, `cannot place ${cropNum} ${what} of ${cropSize}×${cropSize} in a ${height}×${width} roi mask`);
  }
  return { batch, height, width, margin, rows, cols };
}

/**
 * Image i's cropNum top-left corners, written as [h0, w0] pairs at (i·cropNum + k)·2 of `corners`: the first
 * cropNum of torch's randperm seeded with `seed` over the interior pixels (row-major) whose mask index p (into
 * the whole batch) passes `isCandidate`, or over the whole interior when fewer than cropNum do. A corner is its
 * candidate's interior coordinates, so each crop is centred on its candidate.
 */
export function drawCropCorners(g: CropGrid, i: number, cropNum: number, isCandidate: (p: number) => boolean, seed: number, corners: Int32Array): void {
  const { width: w, margin: m, rows, cols } = g;
  const base = i * g.height * w;
  let cand: number[] = [];
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) if (isCandidate(base + (r + m) * w + c + m)) cand.push(r * cols + c);
  if (cand.length < cropNum) cand = Array.from({ length: rows * cols }, (_, k) => k);
  const pick = torchRandpermPrefix(cand.length, cropNum, seed);
  for (let k = 0; k < cropNum; k++) {
    corners[(i * cropNum + k) * 2] = Math.floor(cand[pick[k]] / cols);
    corners[(i * cropNum + k) * 2 + 1] = cand[pick[k]] % cols;
  }
}

/**
 * Whether Σ values / cropSize² over the cropSize² window at (h0, w0) of the W-wide plane at `base` is ≤ threshold:
 * torch divides the integer sum as float32 and compares with the float32 of the threshold.
 */
export function windowMeanAtMost(values: ArrayLike<number>, base: number, w: number, h0: number, w0: number, cropSize: number, threshold: number): boolean {
  let s = 0;
  for (let r = h0; r < h0 + cropSize; r++) for (let c = w0; c < w0 + cropSize; c++) s += values[base + r * w + c];
  return Math.fround(Math.fround(s) / Math.fround(cropSize * cropSize)) <= Math.fround(threshold);
}
