// What one ToCo training iteration needs besides the network: its loss terms, schedule point and settings.
import type { SharedStepOptions, StepPoint } from '../../train/method.ts';

/** ToCo's loss terms, in the order they are summed and logged (reg is the energy loss). */
export const TOCO_LOSS_TERMS = ['cls', 'cls_aux', 'ptc', 'ctc', 'seg', 'reg'] as const;
export type TocoLossTerm = (typeof TOCO_LOSS_TERMS)[number];

export interface TocoStepPoint extends StepPoint<TocoLossTerm> {
  /** The 0-based iteration: it seeds the local crops' draw. */
  iteration: number;
}

export interface TocoStepOptions extends SharedStepOptions {
  /** Local crops per image (ToCo: ncrops − 2 = 8). */
  cropNum: number;
  /** ToCo: 96 at 448 crops. */
  localCropSize: number;
  /** A crop is negative when Σ roi / area ≤ this (ToCo: 0.2). */
  cropThreshold: number;
  /** CTC temperature (ToCo's --temp 0.5). */
  temperature: number;
  /** The run's seed; with the iteration it seeds the local crops' draw. */
  seed: number;
}
