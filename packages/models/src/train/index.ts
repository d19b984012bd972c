export { secoTrainStep, WATCHED_TOTAL, type SecoDataParallel, type SecoTrainContext, type SecoLosses, type SecoStepProbe } from './step.ts';
export { SECO_LOSS_TERMS, type SecoBatch, type SecoLossTerm, type SecoStepOptions, type SecoStepPoint } from './options.ts';
export { pseudoLabels, type PseudoLabels } from './pseudo.ts';
export { maintainReservoir, reservoirContrastSet, reservoirKeys, type Reservoir, type ReservoirKeys } from './reservoir.ts';
export { SECO_POLY_WARMUP, SECO_EMA_MOMENTUM } from './recipe.ts';
export { secoParamGroups, type SecoParamSets } from './param-groups.ts';
