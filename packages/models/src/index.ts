export { ConfusionMatrix, type Scores } from './metrics.ts';
export { PermutohedralLattice } from './crf/lattice.ts';
export { denseCrf, SECO_CRF, type DenseCrfOptions, type DenseCrfResult } from './crf/densecrf.ts';
export * from './losses/index.ts';
export { VisionTransformer, VIT_B16, inferConfig, readStateDict, type ViTConfig, type ViTFeatures, type ViTTrace, type RemainderPolicy, type FromPretrainedOptions } from './vit.ts';
export { ASPP, ASPP_RATES, Classifier1x1, DINOHead, type DINOHeadOptions } from './heads.ts';
export { SecoNetwork, tokensToMap, type SecoNetworkConfig, type SecoOutputs } from './network.ts';
