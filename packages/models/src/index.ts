export { ConfusionMatrix, type Scores } from './metrics.ts';
export { PermutohedralLattice } from './crf/lattice.ts';
export { denseCrf, SECO_CRF, type DenseCrfOptions, type DenseCrfResult } from './crf/densecrf.ts';
export * from './losses/index.ts';
export { VisionTransformer, VIT_B16, inferConfig, readStateDict, resizePosEmbed, type ViTConfig, type ViTFeatures, type ViTTrace, type RemainderPolicy, type FromPretrainedOptions } from './vit.ts';
export { ASPP, ASPP_RATES, Classifier1x1, DINOHead, type DINOHeadOptions } from './heads.ts';
export { camSegCamOnly, camSegForward, tokensToMap, type CamSegParts, type HeadOutputs, type StudentNetworkConfig } from './cam-seg-forward.ts';
export { cropWindows, type CropPlan } from './crop-windows.ts';
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
export { Mt19937, torchRandperm, torchRandpermPrefix } from './torch-randperm.ts';
export * from './train/index.ts';
export * from './inference/index.ts';
export * from './seco/index.ts';
export * from './toco/index.ts';
export { METHODS, METHOD_NAMES, methodOf, methodOfCheckpointFormat, type MethodName } from './methods.ts';
