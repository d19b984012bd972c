export { ConfusionMatrix, type Scores } from './metrics.ts';
export { PermutohedralLattice } from './crf/lattice.ts';
export { denseCrf, SECO_CRF, type DenseCrfOptions, type DenseCrfResult } from './crf/densecrf.ts';
export * from './losses/index.ts';
export { VisionTransformer, VIT_B16, inferConfig, readStateDict, resizePosEmbed, type ViTConfig, type ViTFeatures, type ViTTrace, type RemainderPolicy, type FromPretrainedOptions } from './vit.ts';
export { ASPP, ASPP_RATES, Classifier1x1, DINOHead, type DINOHeadOptions } from './heads.ts';
export { SecoNetwork, tokensToMap, type SecoNetworkConfig, type SecoOutputs } from './seco/network.ts';
export {
  camToLabel,
  camToRoiMask,
  getValidCam,
  labelToAffMask,
  imgBoxMask,
  multiScaleCam,
  refineCamsWithBkg,
  denormalizeImage,
  VOC_CAM_THRESHOLDS,
  COCO_CAM_THRESHOLDS,
  type CamModel,
  type CamThresholds,
  type CamToLabelOptions,
  type CamToLabelBoxOptions,
  type ImgBox,
  type RefineOptions,
  type DenormalizeOptions,
} from './cam.ts';
export { par, parPositionTerm, PAR_DEFAULTS, type ParOptions } from './par.ts';
export { type Refiner } from './refine.ts';
export { assignCscTags, cscTagPlan, planCscTags, cropWindows, CSC_TAG_DEFAULTS, type CscTagOptions, type CscTagPlan } from './seco/tags.ts';
export { Mt19937, torchRandperm, torchRandpermPrefix } from './torch-randperm.ts';
export * from './train/index.ts';
export * from './inference/index.ts';
export { SECO_CHECKPOINT_FORMAT } from './seco/checkpoint-format.ts';
