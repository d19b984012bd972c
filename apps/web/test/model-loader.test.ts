// The page's checkpoint loader goes through the shared weights reader, so a diverged run's checkpoint is
// refused before any GPU work, naming the file and the first non-finite tensor.
import { SECO_CHECKPOINT_FORMAT } from '@seco/models';
import * as T from '@seco/tensor';
import { describe, expect, test } from 'vitest';
import { openCheckpoint } from '../src/model-loader.ts';

describe('openCheckpoint', () => {
  test('a checkpoint with a NaN weight is refused, naming the file and the tensor', async () => {
    const w = new Float32Array(6).fill(0.1);
    w[4] = NaN;
    const bytes = await T.serializeCheckpoint({
      format: SECO_CHECKPOINT_FORMAT,
      tensors: { 'model.head.weight': { data: w, shape: [2, 3] }, 'model.head.bias': { data: new Float32Array(2) } },
      step: 1,
      meta: { config: {} },
    });
    await expect(openCheckpoint(new Blob([bytes as Uint8Array<ArrayBuffer>]), 'diverged.safetensors')).rejects.toThrow(
      /^diverged\.safetensors: weights are not finite: tensor head\.weight \[2, 3\] holds NaN at \[1, 1\]/,
    );
  });
});
