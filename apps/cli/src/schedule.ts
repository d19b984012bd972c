// What the config says for one iteration: each loss term's weight (SECO_SPEC §3.7/§3.8; every term is computed
// always, an inactive one weighs 0) and the iteration-driven switches of §3.4/§3.5. The lrs are not here: the
// optimizer's schedule (trainer/optimizer.ts) is their one source.
import { LOSS_TERMS, type LossTerm, type SecoConfig } from './config/schema.ts';

export type LossWeights = Record<LossTerm, number>;

export function lossWeights(config: SecoConfig, iteration: number): LossWeights {
  const out = {} as LossWeights;
  for (const t of LOSS_TERMS) out[t] = iteration >= config.loss.start[t] ? config.loss.weights[t] : 0;
  return out;
}

export interface SchedulePoint {
  weights: LossWeights;
  /** §3.4: ROI masks for tagging come from the aux CAM before cam2mask. */
  roiSource: 'aux' | 'final';
  /** §3.8: seg pseudo labels come from the aux CAM before seg_mask_source. */
  segSource: 'aux' | 'final';
  /** §3.5: prototypes are updated from update_prototype on. */
  updatePrototypes: boolean;
}

export function schedulePoint(config: SecoConfig, iteration: number): SchedulePoint {
  return {
    weights: lossWeights(config, iteration),
    roiSource: iteration < config.seco.cam2mask ? 'aux' : 'final',
    segSource: iteration < config.seco.seg_mask_source ? 'aux' : 'final',
    updatePrototypes: iteration >= config.seco.update_prototype,
  };
}

/** The weighted sum the training step minimises, for logging and for checking a trainer's total. */
export function totalLoss(losses: Partial<Record<LossTerm, number>>, weights: LossWeights): number {
  let s = 0;
  for (const t of LOSS_TERMS) if (weights[t] !== 0) s += weights[t] * (losses[t] ?? NaN);
  return s;
}
