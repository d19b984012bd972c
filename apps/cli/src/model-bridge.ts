// The CLI's adapter to @seco/models. Inference itself (network config, weights reading, §5 segmentation and CAM
// seeds) lives in packages/models/src/inference, shared with the browser page (apps/web), so both give the same
// numbers on the same checkpoint and images. Commands still check the exports they need by name first
// (requireModels), so a missing piece is reported as such instead of as a TypeError.
import {
  createSegModel,
  type InferenceConfig,
  networkConfig as sharedNetworkConfig,
  readNetworkWeights as sharedReadNetworkWeights,
  SecoNetwork,
  type SegModel as SharedSegModel,
  segModelFromWeights,
} from '@seco/models';
import type { TensorRecord } from '@seco/tensor';
import type { SecoConfig } from './config/schema.ts';
import type { Trainer } from './train-loop.ts';

export class ModelUnavailableError extends Error {
  override name = 'ModelUnavailableError';
}

/** What each command needs from @seco/models. */
export const NEEDS = {
  eval: ['SecoNetwork'],
  infer: ['SecoNetwork'],
  cam: ['SecoNetwork', 'multiScaleCam', 'camToLabel'],
  // The per-iteration step of SECO_SPEC §3 (pseudo labels, tags, crops, every loss, EMA, enqueue) as one call.
  train: ['SecoNetwork', 'secoTrainStep'],
} as const;
export type Need = keyof typeof NEEDS;

type ModelsModule = Record<string, unknown>;

export async function modelsModule(): Promise<ModelsModule> {
  return (await import('@seco/models')) as ModelsModule;
}

export function missingExports(mod: ModelsModule, need: Need): string[] {
  return NEEDS[need].filter((n) => mod[n] === undefined);
}

/** Throws naming the missing exports and where the wiring goes. */
export async function requireModels(need: Need): Promise<ModelsModule> {
  const mod = await modelsModule();
  const missing = missingExports(mod, need);
  if (missing.length > 0) {
    throw new ModelUnavailableError(
      `seco ${need} needs ${missing.join(', ')} from @seco/models, which does not export ${missing.length === 1 ? 'it' : 'them'} yet ` +
        `(the call is wired in apps/cli/src/model-bridge.ts)`,
    );
  }
  return mod;
}

export function networkConfig(config: SecoConfig): Record<string, unknown> {
  return { ...sharedNetworkConfig(config satisfies InferenceConfig) };
}

/**
 * Network weights from a file: a `seco train` checkpoint (tensors under `model.`), or a bare state_dict as
 * .safetensors or .pth (a released SeCo model_iter_N.pth as it is: `module.` stripped; a training checkpoint
 * dict: its model entry). `note` hears how the weights were found.
 */
export async function readNetworkWeights(file: string, note: (line: string) => void = () => {}): Promise<TensorRecord> {
  const w = await sharedReadNetworkWeights(file);
  for (const n of w.notes) note(n);
  return w.tensors;
}

export type SegModel = Pick<SharedSegModel, 'segment' | 'camSeeds' | 'dispose'>;

export async function loadSegModel(config: SecoConfig, weightsFile: string, need: Need, note?: (line: string) => void): Promise<SegModel> {
  await requireModels(need);
  return segModelFromWeights(await readNetworkWeights(weightsFile, note), config, weightsFile);
}

/** A randomly initialised network (tests, and `seco eval` smoke runs without a checkpoint). */
export async function randomSegModel(config: SecoConfig, need: Need): Promise<SegModel> {
  await requireModels(need);
  return createSegModel(new SecoNetwork(sharedNetworkConfig(config)), config);
}

/** The SeCo trainer (apps/cli/src/trainer): network, optimizer, loader and TrainState built from the config. */
export async function createTrainer(config: SecoConfig): Promise<Trainer> {
  await requireModels('train');
  const { createSecoTrainer } = await import('./trainer/seco-trainer.ts');
  return createSecoTrainer(config);
}
