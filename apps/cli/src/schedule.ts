// What the config says for one iteration, as @seco/models' SecoStepPoint: each loss term's weight (0 before the
// term's loss.start iteration; the step skips a term at weight 0 and logs it as 0) and the iteration-driven
// switches (seco.cam2mask, seco.seg_mask_source, seco.update_prototype). The lrs are not here: the optimizer's
// schedule (trainer/optimizer.ts) is their one source.
import { SECO_LOSS_TERMS, type SecoLossTerm, type SecoStepPoint } from '@seco/models';
import type { SecoConfig } from './config/schema.ts';

export type LossWeights = SecoStepPoint['weights'];

export function lossWeights(config: SecoConfig, iteration: number): LossWeights {
  const out = {} as LossWeights;
  for (const t of SECO_LOSS_TERMS) out[t] = iteration >= config.loss.start[t] ? config.loss.weights[t] : 0;
  return out;
}

export function schedulePoint(config: SecoConfig, iteration: number): SecoStepPoint {
  return {
    weights: lossWeights(config, iteration),
    roiSource: iteration < config.seco.cam2mask ? 'aux' : 'final',
    segSource: iteration < config.seco.seg_mask_source ? 'aux' : 'final',
    updatePrototypes: iteration >= config.seco.update_prototype,
  };
}

/** The weighted sum the training step minimises, for logging and for checking a trainer's total. */
export function totalLoss(losses: Partial<Record<SecoLossTerm, number>>, weights: LossWeights): number {
  let s = 0;
  for (const t of SECO_LOSS_TERMS) if (weights[t] !== 0) s += weights[t] * (losses[t] ?? NaN);
  return s;
}
