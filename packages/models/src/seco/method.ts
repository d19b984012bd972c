// SeCo as a WsssMethod: its network, step, loss terms and checkpoint tag for the shared trainer and inference.
import type { GradientAverager, WsssMethod } from '../train/method.ts';
import { SECO_CHECKPOINT_FORMAT } from './checkpoint-format.ts';
import { networkConfig, SecoNetwork } from './network.ts';
import { SECO_LOSS_TERMS, type SecoLossTerm, type SecoStepOptions, type SecoStepPoint } from './train/options.ts';
import { type SecoDataParallel, secoTrainStep } from './train/step.ts';

/** SeCo's data parallelism also gathers every rank's teacher keys and prototype inputs (concat_all_gather). */
function secoParallel(p: GradientAverager | undefined): SecoDataParallel | undefined {
  if (p && !('gather' in p)) throw new Error("SeCo's data parallelism needs gather (concat_all_gather) besides reduceGradients");
  return p as SecoDataParallel | undefined;
}

export const SECO_METHOD: WsssMethod<SecoNetwork, SecoLossTerm, SecoStepPoint, SecoStepOptions> = {
  name: 'seco',
  lossTerms: SECO_LOSS_TERMS,
  checkpointFormat: SECO_CHECKPOINT_FORMAT,
  createNetwork: (config, generator) => new SecoNetwork({ ...networkConfig(config), ...(generator ? { generator } : {}) }),
  step: (ctx, batch, point, read) => secoTrainStep({ ...ctx, parallel: secoParallel(ctx.parallel) }, batch, point, read),
};
