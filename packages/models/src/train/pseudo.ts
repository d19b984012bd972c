// §3.2–§3.4 and the PTC labels of §3.6b: everything the step derives from the no-grad multi-scale CAMs.
import { interpolate, noGrad, scope, type Tensor } from '@seco/tensor';
import { camToLabel, camToRoiMask, labelToAffMask, multiScaleCam, refineCamsWithBkg, denormalizeImage } from '../cam.ts';
import type { SecoNetwork } from '../seco/network.ts';
import { par } from '../par.ts';
import type { SecoStepOptions, SecoStepPoint } from '../seco/train/options.ts';

export interface PseudoLabels {
  /** (B, S, S) ROI mask for the tags: class, −1 uncertain, 0, 255 outside img_box. */
  roi: Tensor;
  /** (B, hw, hw) PTC pair mask from cams_aux at the feature resolution. */
  aff: Tensor;
  /** (B, S, S) PAR-refined seg labels, or null when seg and reg weigh 0 this iteration. */
  segLabel: Tensor | null;
}

/**
 * cams / cams_aux from multi_scale_cam2; the ROI mask from the source the schedule names; PTC labels from
 * cams_aux resized to the token grid with the 448-pixel img_box applied as is (§3.6b quirk, kept); seg labels
 * via cam_to_label then refine_cams_with_bkg_v2 (PAR) on the classes present in the batch.
 */
export function pseudoLabels(
  net: SecoNetwork,
  images: Tensor,
  clsLabel: Tensor,
  imgBox: Tensor,
  grid: [number, number],
  presentClasses: readonly number[],
  point: SecoStepPoint,
  o: SecoStepOptions,
  withSeg: boolean,
): PseudoLabels {
  const thr = { bkgThre: o.bkgThre, highThre: o.highThre, lowThre: o.lowThre };
  return noGrad(() =>
    scope(() => {
      const { cam, camAux } = multiScaleCam(net, images, o.camScales);
      const roi = camToRoiMask(point.roiSource === 'aux' ? camAux : cam, clsLabel, { ...thr, imgBox });
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
