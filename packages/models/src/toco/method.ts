// ToCo as a WsssMethod: its network, step, loss terms and checkpoint tag for the shared trainer and inference.
import type { WsssMethod } from '../train/method.ts';
import { TocoNetwork, tocoNetworkConfig } from './network.ts';
import { TOCO_LOSS_TERMS, type TocoLossTerm, type TocoStepOptions, type TocoStepPoint } from './train/options.ts';
import { tocoTrainStep } from './train/step.ts';

/** The tag of a ToCo run's checkpoints (SeCo's are 'seco-checkpoint/1'); same container, other network. */
export const TOCO_CHECKPOINT_FORMAT = 'toco-checkpoint/1';

export const TOCO_METHOD: WsssMethod<TocoNetwork, TocoLossTerm, TocoStepPoint, TocoStepOptions> = {
  name: 'toco',
  lossTerms: TOCO_LOSS_TERMS,
  checkpointFormat: TOCO_CHECKPOINT_FORMAT,
  createNetwork: (config, generator) => new TocoNetwork({ ...tocoNetworkConfig(config), ...(generator ? { generator } : {}) }),
  step: (ctx, batch, point, read) => tocoTrainStep(ctx, batch, point, read),
};
