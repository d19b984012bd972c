import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import * as T from '../src/index.ts';
import { randomTensor, underTinyLimit } from './support/binding-limit.ts';

/**
 * Row kernels, reductions, losses, pooling, resizing, indexing, shape ops, creation, dropout and the optimizer
 * on tensors larger than a (tiny) binding limit: each runs forward and backward with the device's limit and
 * with 4 KiB, at shapes that are not multiples of any tile, and the two runs must agree.
 */
beforeAll(async () => {
  await T.init();
});

afterEach(() => T.engine().setBindingLimit(null));

/**
 * f(inputs) and the gradients of Σ f(inputs)·w (w a fixed random tensor) with respect to each input, computed
 * on fresh leaves so that each run differentiates its own graph.
 */
function withGrads(inputs: T.Tensor[], f: (...xs: T.Tensor[]) => T.Tensor, seed = 99): T.Tensor[] {
  const leaves = inputs.map((x) => T.contiguous(x).requiresGrad_());
  const y = f(...leaves);
  T.scope(() => T.sum(T.mul(y, randomTensor([...y.shape], seed))).backward());
  const grads = leaves.map((l) => {
    const g = l.grad!;
    l.grad = null;
    l.dispose();
    return g;
  });
  return [T.detach(y), ...grads];
}

/** Same values as the unsliced run, to the bit. */
async function sameBits(run: () => T.Tensor | T.Tensor[]): Promise<void> {
  const { full, sliced } = await underTinyLimit(run);
  expect(sliced).toEqual(full);
}

/** Close to the unsliced run where slicing changes a summation order. */
async function close(run: () => T.Tensor | T.Tensor[], tol = 1e-5): Promise<void> {
  const { full, sliced } = await underTinyLimit(run);
  expect(sliced.length).toBe(full.length);
  full.forEach((f, k) => {
    expect(sliced[k].length).toBe(f.length);
    const worst = f.reduce((m, v, i) => Math.max(m, Math.abs(v - sliced[k][i]) / Math.max(1, Math.abs(v))), 0);
    expect(worst, `output ${k}`).toBeLessThanOrEqual(tol);
  });
}

describe('row kernels over the binding limit', () => {
  test('softmax and logSoftmax over the last dim and over a middle dim, forward and backward', async () => {
    const x = randomTensor([7, 13, 45], 1);
    await sameBits(() => withGrads([x], (a) => T.softmax(a, -1)));
    await sameBits(() => withGrads([x], (a) => T.logSoftmax(a, 1), 3));
    // A permuted (strided) input read in place.
    await sameBits(() => withGrads([x], (a) => T.softmax(T.transpose(a, 0, 2), 1), 4));
  });

  test('layerNorm with weight and bias: values and input grads to the bit, weight grads close', async () => {
    const x = randomTensor([7, 13, 45], 5);
    const w = randomTensor([45], 6);
    const b = randomTensor([45], 7);
    const { full, sliced } = await underTinyLimit(() => withGrads([x, w, b], (a, ww, bb) => T.layerNorm(a, 45, ww, bb)));
    expect(sliced.slice(0, 2)).toEqual(full.slice(0, 2));
    await close(() => withGrads([x, w, b], (a, ww, bb) => T.layerNorm(a, 45, ww, bb)));
  });

  test('normalize along dim 1, forward and backward', async () => {
    const x = randomTensor([5, 41, 23], 8);
    await sameBits(() => withGrads([x], (a) => T.normalize(a, { dim: 1 })));
  });
});

describe('reductions over the binding limit', () => {
  test('over a kept dim: runs of whole outputs, to the bit', async () => {
    const x = randomTensor([57, 41], 11);
    await sameBits(() => withGrads([x], (a) => T.sum(a, 1)));
    await sameBits(() => withGrads([x], (a) => T.mean(T.transpose(a, 0, 1), 0, true), 12));
    await sameBits(() => {
      const { values, indices } = T.max(x, 1);
      return [values, T.cast(indices, 'f32')];
    });
  });

  test('over a reduced dim longer than a binding: partials combined in order', async () => {
    const x = randomTensor([3, 2003], 13);
    await close(() => withGrads([x], (a) => T.sum(a, 1)));
    await close(() => withGrads([x], (a) => T.mean(a)));
    await close(() => withGrads([T.transpose(x, 0, 1)], (a) => T.sum(a, [0])));
    // Extremes are exact: values, indices and gradients to the bit, ties (many, from rounding) keep the first index.
    const ties = T.round(T.mul(x, 2));
    await sameBits(() => withGrads([ties], (a) => T.max(a, 1).values));
    await sameBits(() => withGrads([ties], (a) => T.amax(a, [0, 1])));
    await sameBits(() => [T.cast(T.argmax(ties, 1), 'f32'), T.cast(T.argmin(ties), 'f32'), T.cast(T.min(ties, 0).indices, 'f32')]);
  });
});

describe('creation and dropout over the binding limit', () => {
  test('full, arange and seeded rand/randn: the flat range in runs', async () => {
    await sameBits(() => [T.full([37, 53], 0.25), T.cast(T.arange(3001, 'i32'), 'f32'), T.arange(0.5, 2000.5, 0.75)]);
    await sameBits(() => [T.rand([41, 43], -1, 2, new T.Generator(5)), T.randn([2999], 0, 1, new T.Generator(6))]);
  });

  test('dropout with a seed, on a strided input, forward and backward', async () => {
    const x = randomTensor([29, 61], 14);
    await sameBits(() => withGrads([x], (a) => T.dropout(T.transpose(a, 0, 1), 0.3, true, new T.Generator(7))));
  });
});

describe('pooling and resizing over the binding limit', () => {
  test('max and avg pooling (windowed and adaptive), forward and backward, by runs of planes', async () => {
    const x = randomTensor([3, 5, 17, 19], 15);
    await sameBits(() => withGrads([x], (a) => T.maxPool2d(a, { kernelSize: 3, stride: 2, padding: 1 })));
    await sameBits(() => withGrads([x], (a) => T.avgPool2d(T.transpose(a, 0, 1), { kernelSize: [2, 3], stride: [2, 2] }), 16));
    await sameBits(() => withGrads([x], (a) => T.adaptiveMaxPool2d(a, [4, 5]), 17));
    await sameBits(() => withGrads([x], (a) => T.adaptiveAvgPool2d(a, 3), 18));
  });

  test('f16 max and avg pooling (2-byte elements: windows at odd offsets), forward and backward', async () => {
    const x = T.cast(randomTensor([3, 5, 17, 19], 22), 'f16');
    await sameBits(() => withGrads([x], (a) => T.maxPool2d(a, { kernelSize: 3, stride: 2, padding: 1 })));
    await sameBits(() => withGrads([x], (a) => T.adaptiveMaxPool2d(T.transpose(a, 0, 1), 1), 23));
    await sameBits(() => withGrads([x], (a) => T.avgPool2d(a, { kernelSize: [2, 3], stride: [2, 2] }), 24));
    x.dispose();
  });

  test('bilinear, bicubic and nearest resize, forward and backward', async () => {
    const x = randomTensor([2, 7, 11, 13], 19);
    await sameBits(() => withGrads([x], (a) => T.interpolate(a, { size: [17, 9], mode: 'bilinear' })));
    await sameBits(() => withGrads([x], (a) => T.interpolate(T.transpose(a, 0, 1), { scaleFactor: 1.5, mode: 'bicubic', alignCorners: true }), 20));
    await sameBits(() => withGrads([x], (a) => T.interpolate(a, { size: [5, 26], mode: 'nearest' }), 21));
  });
});

/** Class targets in [0, C) with some set to the ignore index. */
function classTargets(shape: number[], C: number, seed: number): T.Tensor {
  const u = randomTensor(shape, seed);
  const t = T.tidy(() => T.cast(T.floor(T.mul(T.add(u, 2), (C + 3) / 4)), 'i32'));
  u.dispose();
  // Values past C - 1 become the ignore index.
  const out = T.tidy(() => T.where(T.ge(t, C), T.full(shape, 255, 'i32'), t));
  t.dispose();
  return out;
}

describe('losses over the binding limit', () => {
  test('cross entropy with an ignore index over [5, 21, 11, 9] logits, forward and backward', async () => {
    const x = randomTensor([5, 21, 11, 9], 22);
    const t = classTargets([5, 11, 9], 21, 23);
    await close(() => withGrads([x], (a) => T.crossEntropy(a, t)));
    await sameBits(() => withGrads([x], (a) => T.crossEntropy(a, t, { reduction: 'none' }), 24));
    // (N, C) logits, the classes read through a transposed view.
    const x2 = randomTensor([19, 301], 25);
    const t2 = classTargets([301], 19, 26);
    await sameBits(() => withGrads([T.transpose(x2, 0, 1)], (a) => T.crossEntropy(a, t2, { reduction: 'none' })));
  });

  test('binary cross entropy and multilabel soft margin', async () => {
    const x = randomTensor([37, 29], 27);
    const y = T.tidy(() => T.sigmoid(randomTensor([37, 29], 28)));
    await close(() => withGrads([x, y], (a, b) => T.multilabelSoftMarginLoss(a, b)));
    await sameBits(() => withGrads([x, y], (a, b) => T.binaryCrossEntropyWithLogits(a, b, { reduction: 'none' })));
    await close(() => withGrads([T.sigmoid(x), y], (a, b) => T.binaryCrossEntropy(a, b)));
  });
});

/** Indices in [-1, size + 1): a few out of range on each side, which read 0 and add nothing. */
function indices(shape: number[], size: number, seed: number): T.Tensor {
  const u = randomTensor(shape, seed);
  const out = T.tidy(() => T.sub(T.cast(T.floor(T.mul(T.add(u, 2), (size + 2) / 4)), 'i32'), 1));
  u.dispose();
  return out;
}

describe('indexing over the binding limit', () => {
  test('gather and scatterAdd, forward and backward, along a middle dim', async () => {
    const x = randomTensor([9, 23, 17], 30);
    const idx = indices([9, 31, 13], 23, 31);
    await sameBits(() => withGrads([x], (a) => T.gather(a, 1, idx)));
    // An index smaller than the output off dim: the rest of the output only copies x.
    const src = randomTensor([9, 31, 17], 32);
    await sameBits(() => withGrads([x, src], (a, b) => T.scatterAdd(a, 1, idx, b), 33));
  });

  test('indexSelect (its backward through segments) and oneHot', async () => {
    // The table fits a binding (every output element may read any row of it); the output and gradient do not.
    const x = randomTensor([23, 29], 34);
    const idx = indices([97], 23, 35);
    await sameBits(() => withGrads([x], (a) => T.indexSelect(a, 0, idx)));
    await sameBits(() => withGrads([x], (a) => T.indexSelect(T.transpose(a, 0, 1), 1, idx), 36));
    await sameBits(() => T.oneHot(T.reshape(indices([37, 31], 11, 37), [37, 31]), 11, 'f32'));
  });
});

describe('shape ops over the binding limit', () => {
  test('pad (constant and replicate), flip and repeat, forward and backward', async () => {
    const x = randomTensor([4, 5, 13, 11], 40);
    await sameBits(() => withGrads([x], (a) => T.pad(a, [2, 3, 1, 0], 'constant', 0.5)));
    await close(() => withGrads([x], (a) => T.pad(T.transpose(a, 2, 3), [3, 3, 2, 4], 'replicate'), 41));
    await sameBits(() => withGrads([x], (a) => T.flip(a, [1, 3]), 42));
    await close(() => withGrads([T.narrow(x, 0, 0, 2)], (a) => T.repeat(a, [2, 1, 3, 1]), 43));
  });
});

describe('optimizer updates over the binding limit', () => {
  /** Two steps of `make`'s optimizer on a parameter of 3,000 elements: the update runs in runs of its flat range. */
  function twoSteps(make: (p: T.Tensor) => T.Optimizer<T.BaseHyper>): T.Tensor[] {
    const p = randomTensor([3000], 50).requiresGrad_();
    const opt = make(p);
    for (let step = 0; step < 2; step++) {
      T.scope(() => T.sum(T.mul(T.square(p), randomTensor([3000], 51 + step))).backward());
      opt.step();
      opt.zeroGrad();
    }
    return [p];
  }

  test('AdamW and SGD with momentum, to the bit', async () => {
    await sameBits(() => twoSteps((p) => new T.AdamW([p], { lr: 0.01, weightDecay: 0.1 })));
    await sameBits(() => twoSteps((p) => new T.SGD([p], { lr: 0.01, momentum: 0.9, nesterov: true })));
  });

  test('ema, copyInto (through a view at an offset) and firstNonFinite', async () => {
    await sameBits(() => {
      const k = randomTensor([3001], 53);
      T.ema([k], [randomTensor([3001], 54)], 0.9);
      const dst = T.zeros([5000]);
      T.copyInto(T.narrow(dst, 0, 1999, 3001), k);
      return [k, dst];
    });
    const bad = T.tidy(() => T.where(T.eq(T.arange(4001, 'i32'), 3777), Infinity, randomTensor([4001], 55)));
    T.engine().setBindingLimit(4096);
    expect(await T.firstNonFinite([randomTensor([3001], 56), bad])).toBe(1);
    T.engine().setBindingLimit(null);
  });
});
