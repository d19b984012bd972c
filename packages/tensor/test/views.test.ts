// The existing view ops (ops/view.ts) by finite differences, composed with each other, and checked to share
// storage; their PyTorch fixtures (permute, transpose, slice_strided, tokens_to_2d) run in shape.test.ts.
import { beforeAll, describe, expect, test } from 'vitest';
import * as T from '../src/index.ts';
import { gradcheck, randomND, seededUniform } from '../../../test/support/gradcheck.ts';
import { at, build, permuteND, reshapeND, sliceND, transposeND } from './support/ndref.ts';

beforeAll(async () => {
  await T.init();
});

describe('views by finite differences (f64 CPU reference)', () => {
  test('permute of a slice with steps and negative bounds', async () => {
    const rng = seededUniform(71);
    await gradcheck({
      label: 'permute(slice)',
      inputs: [randomND([7, 13, 37], rng)],
      // [5] is a one-element tuple (start 5 to the end), unlike a bare 5, which would drop the dim.
      gpu: ([x]) => T.permute(T.slice(x, [[1, -1, 2], [-13, 13, 3], [5]]), [2, 0, 1]),
      cpu: ([x]) => permuteND(sliceND(x, [[1, 6, 2], [0, 13, 3], [5, 37, 1]]), [2, 0, 1]),
    });
  });

  test('integer slice specs drop dimensions; transpose of the result', async () => {
    const rng = seededUniform(72);
    await gradcheck({
      label: 'slice(int) then transpose',
      inputs: [randomND([7, 13, 37], rng)],
      gpu: ([x]) => T.transpose(T.slice(x, [null, -2, [0, 37, 4]]), 0, 1),
      cpu: ([x]) => build([10, 7], (c) => at(x, [c[1], 11, 4 * c[0]])),
    });
  });

  test('reshape of a non-contiguous view (copy path) and of a contiguous one, flatten', async () => {
    const rng = seededUniform(73);
    await gradcheck({
      label: 'reshape(transpose)',
      inputs: [randomND([13, 7, 3], rng)],
      gpu: ([x]) => T.reshape(T.transpose(x, 0, 2), [-1, 13]),
      cpu: ([x]) => reshapeND(transposeND(x, 0, 2), [21, 13]),
    });
    await gradcheck({
      label: 'flatten(1)',
      inputs: [randomND([3, 7, 13], rng)],
      gpu: ([x]) => T.flatten(x, 1),
      cpu: ([x]) => reshapeND(x, [3, 91]),
    });
  });

  test('expand of size-1 and new leading dims sums gradients back', async () => {
    const rng = seededUniform(74);
    await gradcheck({
      label: 'expand',
      inputs: [randomND([7, 1, 13], rng)],
      gpu: ([x]) => T.expand(T.transpose(x, 0, 2), [3, 13, 5, 7]),
      cpu: ([x]) => build([3, 13, 5, 7], (c) => at(x, [c[3], 0, c[1]])),
    });
  });

  test('squeeze and unsqueeze around a transpose', async () => {
    const rng = seededUniform(75);
    await gradcheck({
      label: 'unsqueeze(squeeze(transpose))',
      inputs: [randomND([7, 1, 13], rng)],
      gpu: ([x]) => T.unsqueeze(T.squeeze(T.transpose(x, 0, 2), 1), -1),
      cpu: ([x]) => build([13, 7, 1], (c) => at(x, [c[1], 0, c[0]])),
    });
  });
});

describe('views share storage and never copy', () => {
  test('permute, transpose, slice, expand, unsqueeze, squeeze, contiguous reshape', () => {
    const x = T.zeros([7, 1, 13]);
    const t = T.transpose(x, 0, 2);
    const views = [
      T.permute(x, [2, 0, 1]),
      t,
      T.slice(x, [[1, 7, 3]]),
      T.expand(x, [2, 7, 5, 13]),
      T.unsqueeze(t, 1),
      T.squeeze(t),
      T.squeeze(t, 1),
      T.reshape(x, [91]),
      T.detach(t),
    ];
    for (const v of views) expect(v.storage).toBe(x.storage);
    expect(T.squeeze(t).strides).toEqual([1, 13]);
  });

  test('reshape of a non-contiguous view copies, into the right order', async () => {
    const x = T.arange(6, 'f32').reshape([2, 3]);
    const r = T.reshape(x.transpose(), [6]);
    expect(r.storage).not.toBe(x.storage);
    expect(Array.from(await r.data())).toEqual([0, 3, 1, 4, 2, 5]);
  });
});

describe('view errors name the op and the shapes', () => {
  const x = () => T.zeros([2, 3]);
  test.each([
    ['reshape to the wrong size', () => T.reshape(x(), [4, 2]), /reshape: cannot view 6 elements as \[4, 2\].*\[2, 3\]/],
    ['reshape with two -1', () => T.reshape(x(), [-1, -1]), /reshape: at most one dimension can be -1/],
    ['permute with a repeated axis', () => T.permute(x(), [0, 0]), /permute: dims \[0, 0\] are not a permutation of 2 axes.*\[2, 3\]/],
    ['transpose out of range', () => T.transpose(x(), 0, 2), /transpose: axes 0, 2 out of range/],
    ['expand of a non-1 dim', () => T.expand(x(), [2, 4]), /expand: dimension 1 is 3, not 1 or 4/],
    ['unsqueeze out of range', () => T.unsqueeze(x(), 4), /unsqueeze: dim 4 out of range/],
    ['squeeze out of range', () => T.squeeze(x(), 2), /squeeze: dim 2 out of range/],
    ['slice with step 0', () => T.slice(x(), [[0, 2, 0]]), /slice: step must be a positive integer, got 0/],
    ['slice index out of range', () => T.slice(x(), [null, 3]), /slice: index 3 out of range for dimension 1.*\[2, 3\]/],
  ])('%s', (_name, fn, message) => {
    expect(fn).toThrow(T.TensorError);
    expect(fn).toThrow(message);
  });
});
