// The CLI's adapter to @seco/models' inference (network config, weights reading, segmentation and CAM seeds in
// packages/models/src/inference, shared with the browser page apps/web), so `seco eval | infer | cam` and the
// page give the same numbers on the same checkpoint and images. The trainer is not here: commands/train.ts
// builds it from trainer/seco-trainer.ts directly.
import { readNetworkWeights as sharedReadNetworkWeights, type SegModel as SharedSegModel, segModelFromWeights } from '@seco/models';
import type { TensorRecord } from '@seco/tensor';
import type { SecoConfig } from './config/schema.ts';

/**
 * Network weights from a file: a `seco train` checkpoint (tensors under `model.`), or a bare state_dict as
 * .safetensors or .pth (a released SeCo model_iter_N.pth as it is: `module.` stripped; a training checkpoint
 * dict: its model entry). `note` hears how the weights were found.
 */
export async function readNetworkWeights(file: string, note: (line: string) => void = () => {}): Promise<TensorRecord> {
  return (await readWeights(file, note)).tensors;
}

async function readWeights(file: string, note: (line: string) => void) {
  const w = await sharedReadNetworkWeights(file);
  for (const n of w.notes) note(n);
  return w;
}

export type SegModel = Pick<SharedSegModel, 'segment' | 'camSeeds' | 'dispose'>;

export async function loadSegModel(config: SecoConfig, weightsFile: string, note: (line: string) => void = () => {}): Promise<SegModel> {
  const w = await readWeights(weightsFile, note);
  // A training checkpoint's tag names its method; a config of another method would build another network.
  if (w.method && w.method !== config.method) {
    throw new Error(`${weightsFile} is a ${w.method} checkpoint but the config's method is ${config.method}: pass the config it was trained with (e.g. --config ${w.method === 'toco' ? 'toco-demo' : 'demo'})`);
  }
  return segModelFromWeights(w.tensors, config, weightsFile);
}
