import { expect } from 'vitest';
import * as T from '../../src/index.ts';
import { seededUniform } from '../../../../test/support/gradcheck.ts';

/** The tiny binding limit the sliced paths run under (a multiple of every adapter's window alignment). */
export const SMALL = 4096;

/**
 * Runs `run` with the device's limit, then with SMALL bytes: the second run must dispatch more (it sliced) and
 * give the same values.
 */
export async function underTinyLimit(run: () => T.Tensor | T.Tensor[]): Promise<{ full: Float32Array[]; sliced: Float32Array[] }> {
  const read = async (ts: T.Tensor | T.Tensor[]) => {
    const list = Array.isArray(ts) ? ts : [ts];
    const out = await Promise.all(list.map(async (t) => Float32Array.from(await t.data())));
    list.forEach((t) => t.dispose());
    return out;
  };
  const d0 = T.engine().stats().dispatches;
  const full = await read(run());
  const d1 = T.engine().stats().dispatches;
  T.engine().setBindingLimit(SMALL);
  const sliced = await read(run());
  const d2 = T.engine().stats().dispatches;
  T.engine().setBindingLimit(null);
  expect(d2 - d1, 'the tiny limit made the op slice').toBeGreaterThan(d1 - d0);
  return { full, sliced };
}

export function randomTensor(shape: number[], seed: number): T.Tensor {
  const draw = seededUniform(seed);
  return T.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => draw(-2, 2)), shape);
}

