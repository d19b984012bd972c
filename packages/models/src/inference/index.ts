export { type EvalOptions, type InferenceConfig, type InferredShape, inferenceConfigFrom, inferInferenceConfig, sharedNetworkConfig, unusedParts } from './config.ts';
export { type FoundStateDict, stateDictIn } from './state-dict-in.ts';
export { type NetworkWeights, readNetworkWeights, sourceName } from './weights.ts';
export { type ClassCams, createSegModel, type HeatMap, inputTensor, type SegModel, type SegNetwork } from './seg-model.ts';
export { loadSegNetwork, type OpenedModel, openSegModel, segModelFromWeights } from './load.ts';
export { assertFiniteWeights } from './finite-weights.ts';
