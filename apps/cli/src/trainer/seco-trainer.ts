// The Trainer behind `seco train`, for the config's method (SeCo or ToCo, @seco/models' WsssMethod): network,
// optional pretrained encoder, PolyWarmupAdamW over the method's parameter groups, the resumable loader, and one
// TrainState holding all of it.
import { methodOf, readStateDict, type StepPoint, type TrainBatch, type WsssMethod, type WsssNetwork } from '@seco/models';
import { defaultGenerator, Generator, NonFiniteWatch } from '@seco/tensor';
import { composeTrainState, type TrainState } from '../checkpoint/train-state.ts';
import { cacheDir, resolvePretrained } from '../cache-dir.ts';
import type { SecoConfig } from '../config/schema.ts';
import type { Trainer } from '../train-loop.ts';
import { TrainBatches } from './batches.ts';
import { checkTrainingStateFits } from './memory-check.ts';
import { checkpointedNetwork, scaleCollapse, scalerLog, setUpPrecision, withScalerState } from './mixed-precision.ts';
import { stepOptions, tocoStepOptions } from './step-options.ts';
import { validateNetwork, type ValidateOptions, type ValidationScores } from './validate.ts';
import { warmStart } from './warm-start.ts';
import { FirstStepTuning } from './first-step-tuning.ts';
import { type ParallelOptions, ParallelTraining } from '../distributed/parallel-training.ts';

export interface SecoTrainer extends Trainer {
  readonly net: WsssNetwork;
  validateWith(o: ValidateOptions): Promise<ValidationScores>;
  close(): Promise<void>;
}

/** timm ViT weights into the encoder, strictly (mismatches named), then the teachers re-copied from it. */
export async function loadPretrained(net: WsssNetwork, file: string): Promise<void> {
  const sd = await readStateDict(file);
  // timm's 1000-class head is loaded and never used by SeCo (it gets no gradient, so AdamW never moves it):
  // an encoder without a head leaves it out. Everything else must fit exactly.
  if (!net.encoder.head) for (const k of Object.keys(sd)) if (k.startsWith('head.')) delete sd[k];
  try {
    net.encoder.loadStateDict(sd, { strict: true });
  } catch (e) {
    throw new Error(`model.pretrained ${file} does not fit the config's encoder: ${(e as Error).message}`, { cause: e });
  }
  net.syncTeachers();
}

export function networkFromConfig(config: SecoConfig): WsssNetwork {
  return methodOf(config).createNetwork(config, new Generator(config.train.seed));
}

/** The step settings of the config's method (each method's step reads its own). */
function methodStepOptions(config: SecoConfig): unknown {
  return config.method === 'toco' ? tocoStepOptions(config) : stepOptions(config);
}

/** `parallel`: one of several data-parallel ranks (mpirun); the per-rank batch is train.batch_size. */
export async function createSecoTrainer(config: SecoConfig, parallel: ParallelOptions | null = null): Promise<SecoTrainer> {
  // The loop hands each step the point schedulePoint made from this same config, so it is this method's point.
  const method = methodOf(config) as WsssMethod<WsssNetwork, string, StepPoint, unknown>;
  const t = config.train;
  // Pipelines of earlier runs on this adapter compile now, in parallel; this run's are recorded after its
  // first iteration (by then it has compiled nearly all it will) and again at the end.
  const warm = await warmStart(cacheDir());
  let recorded = false;
  const net = networkFromConfig(config);
  net.encoder.gradCheckpointing = config.model.grad_checkpointing;
  if (config.model.pretrained) await loadPretrained(net, resolvePretrained(config.model.pretrained));
  const precision = setUpPrecision(net, config);
  const { optimizer, scaler } = precision;
  checkTrainingStateFits(optimizer.parameters);
  const dp = parallel ? new ParallelTraining(parallel, net, optimizer) : null;
  await dp?.start();
  const batches = new TrainBatches(config, dp?.shard);
  const parts = composeTrainState({
    modules: { model: checkpointedNetwork(net, precision) },
    optimizers: { optim: optimizer },
    generators: { default: defaultGenerator },
    json: { loader: batches.position },
  });
  // Host mirrors of buffers (SeCo's queue pointer) follow the loaded state; a mixed run's scaler state too.
  const state: TrainState = withScalerState({ ...parts, load: async (r, m) => (await parts.load(r, m), await net.afterStateLoad()) }, scaler);
  const tuning = new FirstStepTuning(dp && !dp.tunes ? 'off' : config.train.autotune);
  const watch = new NonFiniteWatch();
  const ctx = { net, optimizer, options: methodStepOptions(config), watch: { watch, step: 0 }, scaler, parallel: dp?.dp };
  return {
    net,
    state,
    async step(iteration, point, read) {
      const b = await batches.next();
      if (!b.strong || !b.global2 || !b.imgBox) throw new Error('the training loader yielded no strong / global2 / imgBox views');
      const batch: TrainBatch = { size: b.size, cropSize: t.crop_size, images: b.images, strong: b.strong, global2: b.global2, imgBox: b.imgBox, clsLabels: b.clsLabels, labelIdx: b.labelIdx };
      if (optimizer.globalStep !== iteration) throw new Error(`optimizer is at step ${optimizer.globalStep}, the loop at iteration ${iteration}`);
      ctx.watch.step = iteration;
      dp?.beforeStep(iteration);
      tuning.before();
      const out = await method.step(ctx, batch, point, read);
      await tuning.after();
      await dp?.afterStep(iteration, iteration + 1 === t.max_iters);
      if (!recorded) await warm.save().then(() => (recorded = true));
      return out;
    },
    learningRate: () => optimizer.groups[0].lr,
    validate: async () => ({ ...(await validateNetwork(net, config)) }),
    validateWith: (o) => validateNetwork(net, config, o),
    startup: warm.summary,
    notes: () => [...tuning.take(), ...(dp?.takeNotes() ?? [])],
    async divergence() {
      const at = await watch.take();
      if (at) return { iteration: at.step, term: method.lossTerms[at.index] ?? 'total' };
      // Mixed precision: overflowing steps are skipped (AMP's normal behaviour); a collapsed scale stops.
      const collapsed = scaler ? await scaleCollapse(scaler) : null;
      return collapsed ? { iteration: optimizer.globalStep - 1, term: 'loss scale', message: collapsed } : null;
    },
    ...(scaler ? { logExtras: () => scalerLog(scaler) } : {}),
    async close() {
      watch.dispose();
      dp?.close();
      await warm.save();
      await batches.close();
      // The AdamW moments are twice the network again; they live outside every scope until disposed.
      optimizer.dispose();
      scaler?.dispose();
      net.dispose();
    },
  };
}
