import type { Tensor } from '../tensor.ts';
import { AdamW, type AdamWHyper } from './adamw.ts';
import type { OptimizerOptions, ParamGroupSpec, ParamRef } from './optimizer.ts';
import { type PolyWarmupConfig, polyWarmupSchedule } from './schedule.ts';

/** SeCo's VOC schedule (spec §2.6): warm-up 1500 iterations from 1e-6×, poly 0.9 to 20000. */
export const SECO_POLY_WARMUP: PolyWarmupConfig = { warmupIter: 1500, maxIter: 20000, warmupRatio: 1e-6, power: 0.9 };

/**
 * SeCo `utils/optimizer.py::PolyWarmupAdamW`: AdamW (eps 1e-8) whose groups get lr = initial lr × mult(global_step)
 * before each step; past maxIter no branch is taken and the lr stays where it was.
 */
export class PolyWarmupAdamW extends AdamW {
  constructor(
    params: readonly Tensor[] | readonly ParamGroupSpec<AdamWHyper>[],
    defaults: Partial<AdamWHyper>,
    readonly poly: PolyWarmupConfig = SECO_POLY_WARMUP,
    options: Omit<OptimizerOptions, 'schedule'> = {},
  ) {
    super(params, { eps: 1e-8, ...defaults }, { ...options, schedule: polyWarmupSchedule(poly) });
  }
}

export interface SecoParamSets {
  /** The backbone's named parameters (timm names: `blocks.0.norm1.weight`, …). */
  encoder: Iterable<readonly [string, ParamRef]>;
  /** classifier.weight, aux_classifier.weight and every proj_head parameter. */
  heads: readonly ParamRef[];
  /** The ASPP decoder's parameters. */
  decoder: readonly ParamRef[];
}

/**
 * SeCo's `get_param_groups` with its train-script lrs: [encoder without "norm", encoder norms, heads, decoder]
 * at lr, lr, headLrMult·lr, headLrMult·lr (SeCo: 10), all with the same weight decay. encoder_k and proj_head_t
 * belong to no group. These are the groups' initial lrs, which a schedule scales.
 */
export function secoParamGroups(sets: SecoParamSets, lr = 6e-5, weightDecay = 0.01, headLrMult = 10): ParamGroupSpec<AdamWHyper>[] {
  const plain: ParamRef[] = [];
  const norms: ParamRef[] = [];
  for (const [name, p] of sets.encoder) (name.includes('norm') ? norms : plain).push(p);
  return [
    { params: plain, lr, weightDecay },
    { params: norms, lr, weightDecay },
    { params: [...sets.heads], lr: lr * headLrMult, weightDecay },
    { params: [...sets.decoder], lr: lr * headLrMult, weightDecay },
  ];
}
