export { pseudoLabels, presentClasses, type PseudoLabels, type PseudoLabelSources, type RoiMaker } from './pseudo.ts';
export { projectedParamGroups, secoParamGroups, type SecoParamSets } from './param-groups.ts';
export type { GradientAverager, SharedStepOptions, StepPoint, TrainBatch, TrainStepContext, WsssMethod, WsssNetwork } from './method.ts';
export { headLosses, type HeadLosses, type HeadLossTerm } from './head-losses.ts';
export { watchLosses, weightedSum } from './loss-total.ts';
export { lossToBackward, optimizerStep, toMixedPrecision, type Precision } from './mixed-precision.ts';
