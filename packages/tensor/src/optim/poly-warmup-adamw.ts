import type { Tensor } from '../tensor.ts';
import { AdamW, type AdamWHyper } from './adamw.ts';
import type { OptimizerOptions, ParamGroupSpec } from './optimizer.ts';
import { type PolyWarmupConfig, polyWarmupSchedule } from './schedule.ts';

/**
 * AdamW (eps 1e-8) whose groups get lr = initial lr × mult(global_step) before each step, as SeCo's
 * `utils/optimizer.py::PolyWarmupAdamW` does; past maxIter no branch is taken and the lr stays where it was.
 * The schedule's numbers are the caller's (a model's training recipe), not the engine's.
 */
export class PolyWarmupAdamW extends AdamW {
  constructor(
    params: readonly Tensor[] | readonly ParamGroupSpec<AdamWHyper>[],
    defaults: Partial<AdamWHyper>,
    readonly poly: PolyWarmupConfig,
    options: Omit<OptimizerOptions, 'schedule'> = {},
  ) {
    super(params, { eps: 1e-8, ...defaults }, { ...options, schedule: polyWarmupSchedule(poly) });
  }
}
