// Non-finite weights are refused where they are read (host values, no GPU), naming the source and the first bad
// tensor: every reader of readNetworkWeights (seco eval | cam | infer, the browser page) gets it.
import * as T from '@seco/tensor';
import { describe, expect, test } from 'vitest';
import { assertFiniteWeights, openSegModel, readNetworkWeights, SECO_CHECKPOINT_FORMAT } from '../src/index.ts';

const f32 = (shape: number[], fill = 0.5): T.HostTensor => ({ dtype: 'F32', shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(fill) });

describe('assertFiniteWeights', () => {
  test('finite floats and integer tensors pass', () => {
    expect(() => assertFiniteWeights({ w: f32([2, 3]), n: { dtype: 'I64', shape: [1], data: new Int32Array([7]) } }, 'ok.safetensors')).not.toThrow();
  });

  test('names the source, the first bad tensor, the element, how many and how many later tensors', () => {
    const a = f32([4, 5]);
    a.data[7] = NaN;
    a.data[19] = Infinity;
    const b = f32([3]);
    b.data[0] = -Infinity;
    const rec = { ok: f32([2]), 'blocks.0.attn.qkv.weight': a, 'head.bias': b };
    expect(() => assertFiniteWeights(rec, 'run/step-9.safetensors')).toThrow(
      'run/step-9.safetensors: weights are not finite: tensor blocks.0.attn.qkv.weight [4, 5] holds NaN at [1, 2] (2 of 20 elements not finite; 1 later tensor too)',
    );
    expect(() => assertFiniteWeights({ 'head.bias': b }, 'x')).toThrow('tensor head.bias [3] holds -Infinity at [0] (1 of 3 elements not finite)');
  });
});

describe('readNetworkWeights refuses non-finite weights', () => {
  const bad = f32([2, 2]);
  bad.data[3] = NaN;

  test('a seco checkpoint, read as the browser page reads it (openSegModel on a Blob)', async () => {
    const bytes = await T.serializeCheckpoint({ format: SECO_CHECKPOINT_FORMAT, tensors: { 'model.cls_token': f32([1, 1, 4]), 'model.proj.weight': bad, 'optim.exp_avg.0': f32([3]) }, step: 3, meta: { config: {} } });
    await expect(openSegModel(new Blob([bytes as Uint8Array<ArrayBuffer>]), { name: 'diverged.safetensors' })).rejects.toThrow(
      /^diverged\.safetensors: weights are not finite: tensor proj\.weight \[2, 2\] holds NaN at \[1, 1\]/,
    );
  });

  test('a bare safetensors state_dict', async () => {
    const bytes = await T.serializeSafetensors({ 'proj.weight': bad });
    await expect(readNetworkWeights(bytes, 'bare.safetensors')).rejects.toThrow(/^bare\.safetensors: weights are not finite: tensor proj\.weight/);
  });
});
