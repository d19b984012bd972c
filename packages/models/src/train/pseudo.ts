// §3.2–§3.4 and the PTC labels of §3.6b: everything a step derives from the no-grad multi-scale CAMs, for any
// network with a cam_only path.
import { interpolate, noGrad, scope, type Tensor } from '@seco/tensor';
import { type CamThresholds, camToLabel, camToRoiMask, type ImgBox, labelToAffMask, multiScaleCam, refineCamsWithBkg, denormalizeImage, type CamModel } from '../cam.ts';
import { par } from '../par.ts';
import type { SharedStepOptions } from './method.ts';

export interface PseudoLabels {
  /** (B, S, S) ROI mask from `roiMask` (SeCo's: class, −1 uncertain, 0, 255 outside img_box). */
  roi: Tensor;
  /** (B, hw, hw) PTC pair mask from cams_aux at the feature resolution. */
  aff: Tensor;
  /** (B, S, S) PAR-refined seg labels, or null when seg and reg weigh 0 this iteration. */
  segLabel: Tensor | null;
}

/** 0-based foreground channels present anywhere in the batch: PAR refines only those (same labels, less work). */
export function presentClasses(cls: Float32Array, C: number): number[] {
  const out: number[] = [];
  for (let c = 0; c < C; c++) for (let i = c; i < cls.length; i += C) if (cls[i] !== 0) { out.push(c); break; }
  return out;
}

/** Which CAM feeds the ROI mask and the seg pseudo labels this iteration. */
export interface PseudoLabelSources {
  roiSource: 'aux' | 'final';
  segSource: 'aux' | 'final';
}

/** Builds a method's ROI mask from the CAM the schedule names (B, C, S, S), the labels and the thresholds. */
export type RoiMaker = (cam: Tensor, clsLabel: Tensor, thresholds: Omit<CamThresholds, 'ignoreIndex'>, imgBox: ImgBox) => Tensor;

/** SeCo's cam_to_roi_mask with img_box. */
const secoRoi: RoiMaker = (cam, clsLabel, thr, imgBox) => camToRoiMask(cam, clsLabel, { ...thr, imgBox });

/**
 * cams / cams_aux from multi_scale_cam2; the ROI mask from the source the schedule names; PTC labels from
 * cams_aux resized to the token grid with the 448-pixel img_box applied as is (§3.6b quirk, kept); seg labels
 * via cam_to_label then refine_cams_with_bkg_v2 (PAR) on the classes present in the batch.
 */
export function pseudoLabels(
  net: CamModel,
  images: Tensor,
  clsLabel: Tensor,
  imgBox: Tensor,
  grid: [number, number],
  presentClasses: readonly number[],
  point: PseudoLabelSources,
  o: SharedStepOptions,
  withSeg: boolean,
  roiMask: RoiMaker = secoRoi,
): PseudoLabels {
  const thr = { bkgThre: o.bkgThre, highThre: o.highThre, lowThre: o.lowThre };
  return noGrad(() =>
    scope(() => {
      const { cam, camAux } = multiScaleCam(net, images, o.camScales);
      const roi = roiMask(point.roiSource === 'aux' ? camAux : cam, clsLabel, thr, imgBox);
      const small = interpolate(camAux, { size: grid, mode: 'bilinear', alignCorners: false });
      const aff = labelToAffMask(camToLabel(small, clsLabel, { ...thr, imgBox }).label);
      let segLabel: Tensor | null = null;
      if (withSeg) {
        const { validCam } = camToLabel(point.segSource === 'aux' ? camAux : cam, clsLabel, { ...thr, imgBox });
        const refine = (img: Tensor, masks: Tensor) => par(img, masks, o.par);
        segLabel = refineCamsWithBkg(refine, denormalizeImage(images), validCam, clsLabel, {
          imgBox,
          highThre: o.highThre,
          lowThre: o.lowThre,
          downScale: o.parDownScale ?? 2,
          classes: presentClasses,
        });
      }
      return { roi, aff, segLabel };
    }),
  );
}
