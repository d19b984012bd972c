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
  const w = await sharedReadNetworkWeights(file);
  for (const n of w.notes) note(n);
  return w.tensors;
}

export type SegModel = Pick<SharedSegModel, 'segment' | 'camSeeds' | 'dispose'>;

export async function loadSegModel(config: SecoConfig, weightsFile: string, note?: (line: string) => void): Promise<SegModel> {
  return segModelFromWeights(await readNetworkWeights(weightsFile, note), config, weightsFile);
}
