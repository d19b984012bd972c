// CAM → label maps (SeCo utils/camutils.py): cam_to_label, cam_to_roi_mask, label_to_aff_mask, get_valid_cam.
import { add, arange, cast, eq, le, logicalOr, max, mul, reshape, scope, shapeError, type Tensor, TensorError, where } from '@seco/tensor';
import { type ImgBox, imgBoxMask } from './img-box.ts';

export { type ImgBox, imgBoxMask } from './img-box.ts';

export { multiScaleCam, type CamModel } from './multiscale-cam.ts';
export { refineCamsWithBkg, denormalizeImage, type RefineOptions, type DenormalizeOptions } from './refine.ts';

export interface CamThresholds {
  bkgThre: number;
  highThre: number;
  lowThre: number;
  ignoreIndex: number;
}

/** SeCo's VOC thresholds (scripts/train_voc.py). */
export const VOC_CAM_THRESHOLDS: CamThresholds = { bkgThre: 0.5, highThre: 0.7, lowThre: 0.25, ignoreIndex: 255 };
/** SeCo's COCO thresholds (scripts/train_coco.py). */
export const COCO_CAM_THRESHOLDS: CamThresholds = { bkgThre: 0.45, highThre: 0.65, lowThre: 0.25, ignoreIndex: 255 };

export interface CamToLabelOptions extends Partial<CamThresholds> {
  imgBox?: undefined;
}

export interface CamToLabelBoxOptions extends Partial<CamThresholds> {
  imgBox: ImgBox;
  /** low < v ≤ high becomes ignoreIndex (roi mask: −1) and v ≤ low background. SeCo always passes true. */
  ignoreMid?: boolean;
}

function checkCam(op: string, cam: Tensor, clsLabel: Tensor): void {
  if (cam.rank !== 4 || clsLabel.rank !== 2 || clsLabel.shape[0] !== cam.shape[0] || clsLabel.shape[1] !== cam.shape[1]) {
    throw shapeError(op, 'needs cam (B, C, H, W) and clsLabel (B, C)', cam.shape, clsLabel.shape);
  }
  if (cam.dtype !== 'f32') throw new TensorError(op, `needs an f32 cam, got ${cam.dtype}`);
}

/** cls_label[:, :, None, None] · cam: the CAMs of absent classes zeroed. */
export function getValidCam(cam: Tensor, clsLabel: Tensor): Tensor {
  checkCam('getValidCam', cam, clsLabel);
  const [b, c] = clsLabel.shape;
  return scope(() => mul(reshape(cast(clsLabel, 'f32'), [b, c, 1, 1]), cam));
}

/**
 * The shared body of cam_to_label / cam_to_roi_mask: class id (1..C) where the best valid CAM v > bkg, else 0;
 * with a box and ignoreMid, low < v ≤ high becomes `mid` and v ≤ low 0 (in the reference's order); outside the
 * box ignoreIndex. Ties in the channel max go to the first class, as torch.max.
 */
function labelFromCam(op: string, cam: Tensor, clsLabel: Tensor, o: Partial<CamThresholds> & { imgBox?: ImgBox; ignoreMid?: boolean }, mid: number | null) {
  checkCam(op, cam, clsLabel);
  const t = { ...VOC_CAM_THRESHOLDS, ...o };
  const [b, , h, w] = cam.shape;
  return scope(() => {
    const validCam = getValidCam(cam, clsLabel);
    const { values, indices } = max(validCam, 1);
    let label = where(le(values, t.bkgThre), 0, add(indices, 1));
    if (o.imgBox === undefined) return { validCam, label };
    if (o.ignoreMid ?? true) {
      label = where(le(values, t.highThre), mid ?? t.ignoreIndex, label);
      label = where(le(values, t.lowThre), 0, label);
    }
    label = where(imgBoxMask(o.imgBox, b, h, w), label, t.ignoreIndex);
    return { validCam, label };
  });
}

/**
 * cam_to_label (thresholds default to VOC_CAM_THRESHOLDS). Without imgBox: the validation form, a (B, H, W) i32
 * label with v ≤ bkgThre as background.
 * With imgBox: { validCam (B, C, H, W), label } where label has class ids above highThre, ignoreIndex in
 * (lowThre, highThre], 0 at or below lowThre, and ignoreIndex outside the box.
 */
export function camToLabel(cam: Tensor, clsLabel: Tensor, options?: CamToLabelOptions): Tensor;
export function camToLabel(cam: Tensor, clsLabel: Tensor, options: CamToLabelBoxOptions): { validCam: Tensor; label: Tensor };
export function camToLabel(cam: Tensor, clsLabel: Tensor, options: CamToLabelOptions | CamToLabelBoxOptions = {}): Tensor | { validCam: Tensor; label: Tensor } {
  const r = labelFromCam('camToLabel', cam, clsLabel, options, null);
  if (options.imgBox !== undefined) return r;
  r.validCam.dispose();
  return r.label;
}

/**
 * cam_to_roi_mask: as camToLabel with a box, but the uncertain band (lowThre, highThre] is −1. Values: class id,
 * −1, 0, or ignoreIndex outside the box. (B, H, W) i32.
 */
export function camToRoiMask(cam: Tensor, clsLabel: Tensor, options: CamToLabelBoxOptions): Tensor {
  const r = labelFromCam('camToRoiMask', cam, clsLabel, options, -1);
  r.validCam.dispose();
  return r.label;
}

/**
 * label_to_aff_mask: (B, h, w) labels → (B, hw, hw) i32 pair mask, 1 where the labels agree (background pairs
 * included), 0 where they differ, ignoreIndex where either is ignoreIndex and on the diagonal.
 */
export function labelToAffMask(label: Tensor, ignoreIndex = 255): Tensor {
  if (label.rank !== 3) throw shapeError('labelToAffMask', 'needs labels (B, h, w)', label.shape);
  const [b, h, w] = label.shape;
  const n = h * w;
  return scope(() => {
    const l = cast(label, 'i32');
    const rowL = reshape(l, [b, n, 1]);
    const colL = reshape(l, [b, 1, n]);
    const diag = eq(reshape(arange(n, 'i32'), [1, n, 1]), reshape(arange(n, 'i32'), [1, 1, n]));
    const ignored = logicalOr(logicalOr(eq(rowL, ignoreIndex), eq(colL, ignoreIndex)), diag);
    return where(ignored, ignoreIndex, cast(eq(rowL, colL), 'i32'));
  });
}
