// What one SeCo training iteration needs besides the network: the §3.7 schedule point and the fixed settings.
import type { SharedStepOptions, StepPoint, TrainBatch } from '../../train/method.ts';

/** SeCo's loss terms, in the order they are logged (reg is the energy loss). */
export const SECO_LOSS_TERMS = ['cls', 'cls_aux', 'ptc', 'lil', 'lig', 'seg', 'reg'] as const;
export type SecoLossTerm = (typeof SECO_LOSS_TERMS)[number];

/**
 * One iteration's schedule (§3.4, §3.5, §3.7): loss weights and the iteration-driven switches. The lrs are not
 * here: the optimizer's own schedule (PolyWarmupAdamW over net.paramGroups) is their one source.
 */
export interface SecoStepPoint extends StepPoint<SecoLossTerm> {
  /** ROI masks for the tags: aux CAM before cam2mask, final after. */
  roiSource: 'aux' | 'final';
  /** Seg pseudo labels (PAR input): VOC always final; COCO aux before seg_mask_source. */
  segSource: 'aux' | 'final';
  /** update_prototype reached. */
  updatePrototypes: boolean;
}

export interface SecoStepOptions extends SharedStepOptions {
  /** Local crops per image (SeCo: ncrops − 2 = 10). */
  cropNum: number;
  localCropSize: number;
  tagThreshold: number;
  protoM: number;
  tempLil: number;
  tempLig: number;
}

/** One training batch on the host (the shared TrainBatch). */
export type SecoBatch = TrainBatch;
