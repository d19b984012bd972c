// What the config says for one iteration, as the method's step point (@seco/models' SecoStepPoint or
// TocoStepPoint): each loss term's weight (0 before the term's loss.start iteration; the step skips a term at
// weight 0 and logs it as 0) and the method's iteration-driven switches (SeCo: seco.cam2mask,
// seco.seg_mask_source, seco.update_prototype). The lrs are not here: the optimizer's schedule
// (trainer/optimizer.ts) is their one source.
import { methodOf, type SecoStepPoint, type StepPoint, type TocoStepPoint } from '@seco/models';
import type { SecoConfig } from './config/schema.ts';

export type LossWeights = Record<string, number>;

/** Each of the method's loss terms (in its order) at its weight, or 0 before its start. */
export function lossWeights(config: SecoConfig, iteration: number): LossWeights {
  const out: LossWeights = {};
  for (const t of methodOf(config).lossTerms) out[t] = iteration >= config.loss.start[t] ? config.loss.weights[t] : 0;
  return out;
}

export function secoSchedulePoint(config: SecoConfig, iteration: number): SecoStepPoint {
  return {
    weights: lossWeights(config, iteration) as SecoStepPoint['weights'],
    roiSource: iteration < config.seco.cam2mask ? 'aux' : 'final',
    segSource: iteration < config.seco.seg_mask_source ? 'aux' : 'final',
    updatePrototypes: iteration >= config.seco.update_prototype,
  };
}

export function tocoSchedulePoint(config: SecoConfig, iteration: number): TocoStepPoint {
  return { weights: lossWeights(config, iteration) as TocoStepPoint['weights'], iteration };
}

/** The step point of the config's method; the trainer built for the same config reads it as its own. */
export function schedulePoint(config: SecoConfig, iteration: number): StepPoint {
  return config.method === 'toco' ? tocoSchedulePoint(config, iteration) : secoSchedulePoint(config, iteration);
}

/** The weighted sum the training step minimises, for logging and for checking a trainer's total. */
export function totalLoss(losses: Partial<Record<string, number>>, weights: LossWeights): number {
  let s = 0;
  for (const [t, w] of Object.entries(weights)) if (w !== 0) s += w * (losses[t] ?? NaN);
  return s;
}
