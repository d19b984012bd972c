import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import * as T from '../src/index.ts';
import { randomTensor, underTinyLimit } from './support/binding-limit.ts';

/**
 * Every op family on tensors larger than the binding limit: the same op runs with the device's limit and with a
 * tiny one (so its tensors are bound in windows and its work is sliced), and the results must agree.
 */
beforeAll(async () => {
  await T.init();
});

afterEach(() => T.engine().setBindingLimit(null));

describe('elementwise over the binding limit', () => {
  test('binary with broadcast and a transposed operand', async () => {
    const a = randomTensor([37, 53], 1);
    const b = randomTensor([53], 2);
    const c = randomTensor([53, 37], 3);
    const { full, sliced } = await underTinyLimit(() => T.add(T.mul(a, b), T.transpose(c, 0, 1)));
    expect(sliced).toEqual(full);
  });
});

describe('copies over the binding limit', () => {
  test('concat, and a permuted copy', async () => {
    const a = randomTensor([19, 41, 3], 4);
    const b = randomTensor([23, 41, 3], 5);
    const { full, sliced } = await underTinyLimit(() => [T.concat([a, b], 0), T.contiguous(T.permute(T.concat([a, b], 0), [2, 0, 1]))]);
    expect(sliced).toEqual(full);
  });
});
