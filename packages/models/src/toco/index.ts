export { TocoNetwork, tocoNetworkConfig, TOCO_HEAD_MOMENTUM, type TocoNetworkConfig } from './network.ts';
export { ctcLoss, type CtcLossOptions } from './ctc-loss.ts';
export { planTocoCrops, tocoCropPlan, tocoRoiMask, type TocoCropOptions, type TocoCropPlan } from './local-crops.ts';
export { TOCO_LOSS_TERMS, type TocoLossTerm, type TocoStepOptions, type TocoStepPoint } from './train/options.ts';
export { tocoTrainStep, type TocoLosses, type TocoTrainContext } from './train/step.ts';
export { TOCO_CHECKPOINT_FORMAT, TOCO_METHOD } from './method.ts';
