import { afterEach, beforeAll, expect, test } from 'vitest';
import * as T from '../src/index.ts';

beforeAll(async () => {
  await T.init();
});

afterEach(() => {
  T.setNanCheck(false);
});

test('names the first op that produces a non-finite value, not the ones after it', async () => {
  T.setNanCheck(true);
  const found = T.scope(() => {
    const x = T.tensor([[1, -2, 3], [0.5, 4, -1]]);
    const a = T.exp(x); // finite
    const b = T.log(T.sub(a, 2)); // log of a negative number: NaN, first here
    const c = T.matmul(b, T.transpose(x)); // NaN spreads
    return T.sum(c);
  });
  const first = await T.firstNonFiniteOp();
  expect(first).toEqual({ op: 'log', shape: [2, 3] });
  expect(Number.isNaN(await found.item())).toBe(true);
  // The verdict resets after it is read.
  expect(await T.firstNonFiniteOp()).toBeNull();
});

test('finite work reports nothing; host data with NaN is refused at upload', async () => {
  T.setNanCheck(true);
  T.scope(() => T.softmax(T.mul(T.randn([7, 13]), 3), -1));
  expect(await T.firstNonFiniteOp()).toBeNull();
  expect(() => T.tensor([1, NaN, 2])).toThrow(/tensor: host data holds NaN at index 1 \(NaN check is on\)/);
});

test('an overflow to Inf is caught where it happens', async () => {
  T.setNanCheck(true);
  T.scope(() => {
    const x = T.tensor([30, 60, 90]);
    T.relu(T.sub(T.exp(T.mul(x, 2)), 1));
  });
  expect((await T.firstNonFiniteOp())?.op).toBe('exp');
});

test('an output written by several dispatches into a recycled buffer is checked only once complete', async () => {
  // Every free buffer of the output's size holds NaNs left by earlier tensors; a concat's output lands in one,
  // and after the first of its copies half of it still holds them: nobody may be blamed for those.
  const shape = [2, 40, 3];
  const stale = Array.from({ length: 64 }, () => T.full(shape, NaN));
  stale.forEach((t) => t.dispose());
  T.setNanCheck(true);
  const out = T.scope(() => T.keep(T.concat([T.ones([1, 40, 3]), T.full([1, 40, 3], 2)], 0)));
  T.scope(() => T.sum(out));
  expect(await T.firstNonFiniteOp()).toBeNull();
  expect((await out.data()).every((v) => v === 1 || v === 2)).toBe(true);
  out.dispose();
});
