export { Optimizer, type BaseHyper, type NamedParams, type OptimizerOptions, type OptimizerStateDict, type ParamGroup, type ParamGroupSpec, type ParamRef, type ParamState } from './optimizer.ts';
export { AdamW, ADAMW_DEFAULTS, type AdamWHyper } from './adamw.ts';
export { SGD, SGD_DEFAULTS, type SGDHyper } from './sgd.ts';
export { PolyWarmupAdamW } from './poly-warmup-adamw.ts';
export * from './schedule.ts';
export { ema, type TensorSet } from './ema.ts';
export { copyInto } from './assign.ts';
export { firstNonFinite, NonFiniteWatch, type NonFiniteAt } from './finite.ts';
