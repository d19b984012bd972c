// train.precision for the trainer (either method): the f16 student with f32 masters (@seco/models' toMixedPrecision), the
// GradScaler, its state in checkpoints, the loss-scale figures of the log and the collapsed-scale stop.
import { toMixedPrecision, type WsssNetwork } from '@seco/models';
import { engine, GradScaler, type PolyWarmupAdamW } from '@seco/tensor';
import type { StatefulModule, TrainState } from '../checkpoint/train-state.ts';
import type { SecoConfig } from '../config/schema.ts';
import { secoOptimizer } from './optimizer.ts';

/** The checkpoint tensor holding [scale, found_inf, growth_tracker, skipped_steps]; only mixed runs have it. */
export const SCALER_KEY = 'scaler.state';

/**
 * A scale below this has been halved 24 times from 2^16 with no growth between (growth takes 2,000 clean
 * steps): the gradients are not finite at any scale, e.g. a NaN that scaling cannot remove, so the run stops.
 */
export const MIN_LOSS_SCALE = 2 ** -8;

export interface Precision {
  optimizer: PolyWarmupAdamW;
  /** Present under train.precision 'mixed'. */
  scaler?: GradScaler;
}

/** The optimizer for the config's precision; under 'mixed' the student becomes f16 and a GradScaler is made. */
export function setUpPrecision(net: WsssNetwork, config: SecoConfig): Precision {
  if (config.train.precision === 'f32') return { optimizer: secoOptimizer(net, config) };
  if (!engine().supportsF16) {
    throw new Error("train.precision 'mixed' needs the adapter feature 'shader-f16', which this device lacks; set train.precision to 'f32'");
  }
  const optimizer = toMixedPrecision(net, (n) => secoOptimizer(n, config));
  return { optimizer, scaler: new GradScaler() };
}

/**
 * The network as checkpoints hold it: under mixed precision the student's weights are its f32 masters (a PyTorch
 * AMP checkpoint's model is f32), so eval and infer read them, not their f16 rounding. On load the engine rounds
 * them to f16 on the GPU with the cast the optimizer's f16 writes use, so --resume stays bit-identical.
 */
export function checkpointedNetwork(net: WsssNetwork, p: Precision): StatefulModule {
  if (!p.scaler) return net;
  return {
    stateDict: () => Object.fromEntries(Object.entries(net.stateDict()).map(([k, t]) => [k, p.optimizer.masterWeight(t) ?? t])),
    loadStateDict: (record, options) => net.loadStateDict(record, options),
  };
}

/**
 * The train state with the scaler's state under SCALER_KEY (mixed) and a check, on load, that the checkpoint was
 * written with the same precision: its optimizer state (f32 masters or not) only fits that one.
 */
export function withScalerState(state: TrainState, scaler: GradScaler | undefined): TrainState {
  return {
    tensors: () => (scaler ? { ...state.tensors(), [SCALER_KEY]: scaler.stateTensor() } : state.tensors()),
    meta: () => state.meta(),
    async load(record, meta) {
      const saved = record[SCALER_KEY];
      if (!scaler !== !saved) {
        const [was, is] = saved ? ['mixed', 'f32'] : ['f32', 'mixed'];
        throw new Error(`the checkpoint was written with train.precision '${was}' and this run is '${is}'; resume with train.precision=${was}`);
      }
      await state.load(record, meta);
      if (scaler && saved) {
        const [scale, , growth, skipped] = saved.data;
        scaler.loadStateDict({ scale, _growth_tracker: growth, skipped_steps: skipped });
      }
    },
  };
}

/** What a mixed run's log records carry: the loss scale and the steps skipped so far (one 16-byte readback). */
export async function scalerLog(scaler: GradScaler): Promise<{ loss_scale: number; skipped_steps: number }> {
  const s = await scaler.stats();
  return { loss_scale: s.scale, skipped_steps: s.skippedSteps };
}

/** A stop message when the scale has collapsed below MIN_LOSS_SCALE, else null. */
export async function scaleCollapse(scaler: GradScaler): Promise<string | null> {
  const s = await scaler.stats();
  if (s.scale >= MIN_LOSS_SCALE) return null;
  return (
    `the loss scale fell to ${s.scale} (below ${MIN_LOSS_SCALE}) after ${s.skippedSteps} skipped steps: ` +
    'the gradients overflow or are NaN at every scale, which loss scaling cannot fix'
  );
}
