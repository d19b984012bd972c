export { secoTrainStep, WATCHED_TOTAL, type SecoTrainContext, type SecoLosses, type SecoStepProbe } from '../seco/train/step.ts';
export { SECO_LOSS_TERMS, type SecoBatch, type SecoLossTerm, type SecoStepOptions, type SecoStepPoint } from '../seco/train/options.ts';
export { pseudoLabels, type PseudoLabels } from './pseudo.ts';
export { maintainReservoir, type Reservoir } from '../seco/train/reservoir.ts';
export { SECO_POLY_WARMUP, SECO_EMA_MOMENTUM } from '../seco/train/recipe.ts';
export { secoParamGroups, type SecoParamSets } from '../seco/train/param-groups.ts';
