// SeCo as a WsssMethod: its network, step, loss terms and checkpoint tag for the shared trainer and inference.
import type { WsssMethod } from '../train/method.ts';
import { SECO_CHECKPOINT_FORMAT } from './checkpoint-format.ts';
import { networkConfig, SecoNetwork } from './network.ts';
import { SECO_LOSS_TERMS, type SecoLossTerm, type SecoStepOptions, type SecoStepPoint } from './train/options.ts';
import { secoTrainStep } from './train/step.ts';

export const SECO_METHOD: WsssMethod<SecoNetwork, SecoLossTerm, SecoStepPoint, SecoStepOptions> = {
  name: 'seco',
  lossTerms: SECO_LOSS_TERMS,
  checkpointFormat: SECO_CHECKPOINT_FORMAT,
  createNetwork: (config, generator) => new SecoNetwork({ ...networkConfig(config), ...(generator ? { generator } : {}) }),
  step: (ctx, batch, point, read) => secoTrainStep(ctx, batch, point, read),
};
