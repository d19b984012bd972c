// What one SeCo training iteration needs besides the network: the §3.7 schedule point and the fixed settings.
import type { EnergyLossOptions } from '../../losses/energy.ts';
import type { ParOptions } from '../../par.ts';

/** SeCo's loss terms, in the order they are logged (reg is the energy loss). */
export const SECO_LOSS_TERMS = ['cls', 'cls_aux', 'ptc', 'lil', 'lig', 'seg', 'reg'] as const;
export type SecoLossTerm = (typeof SECO_LOSS_TERMS)[number];

/**
 * One iteration's schedule (§3.4, §3.5, §3.7): loss weights and the iteration-driven switches. The lrs are not
 * here: the optimizer's own schedule (PolyWarmupAdamW over net.paramGroups) is their one source.
 */
export interface SecoStepPoint {
  weights: Record<SecoLossTerm, number>;
  /** ROI masks for the tags: aux CAM before cam2mask, final after. */
  roiSource: 'aux' | 'final';
  /** Seg pseudo labels (PAR input): VOC always final; COCO aux before seg_mask_source. */
  segSource: 'aux' | 'final';
  /** update_prototype reached. */
  updatePrototypes: boolean;
}

export interface SecoStepOptions {
  camScales: readonly number[];
  bkgThre: number;
  highThre: number;
  lowThre: number;
  /** Local crops per image (SeCo: ncrops − 2 = 10). */
  cropNum: number;
  localCropSize: number;
  tagThreshold: number;
  protoM: number;
  tempLil: number;
  tempLig: number;
  energy: EnergyLossOptions;
  par?: ParOptions;
  /** PAR runs at 1/parDownScale of the crop (SeCo: 2). */
  parDownScale?: number;
}

/** One training batch on the host, as the data loader yields it (all (B, 3, S, S) ImageNet-normalised). */
export interface SecoBatch {
  size: number;
  cropSize: number;
  /** image = raw_image. */
  images: Float32Array;
  /** s_image: the strong local view of the same crop. */
  strong: Float32Array;
  /** w_image: the second global view. */
  global2: Float32Array;
  /** (B, 4) [row0, row1, col0, col1] of the valid image inside the crop. */
  imgBox: Int32Array;
  /** (B, C) multi-hot foreground labels. */
  clsLabels: Float32Array;
  /** (B) 1-based class of single-label images, −1 otherwise. */
  labelIdx: Int32Array;
}
