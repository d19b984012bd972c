import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import * as T from '../src/index.ts';
import type { Dispatch } from '../src/runtime/engine.ts';
import { randomTensor, underTinyLimit } from './support/binding-limit.ts';

/**
 * matmul/linear, conv2d, attention and biasGelu on tensors larger than the binding limit, forward and backward:
 * each runs with the device's limit and again with a tiny one (its tensors bound in windows, its work sliced),
 * and values and gradients must agree: bit for bit where slicing keeps every sum's order, closely where a
 * sliced reduction (a weight or bias gradient summed over parts) adds in another order.
 */

/** Dispatches of these families that bound more than the limit (a kernel that skipped bindView). */
const OURS = /^(matmul|linear|conv2d|attention|bias_gelu)/;
const oversized = new Set<string>();
let realDispatch: (d: Dispatch) => void;

beforeAll(async () => {
  await T.init();
  const e = T.engine();
  realDispatch = e.dispatch.bind(e);
  e.dispatch = (d: Dispatch) => {
    // A GPUBuffer and a window both carry the bound size.
    if (OURS.test(d.label) && d.buffers.some((b) => ('buffer' in b ? (b.size ?? b.buffer.size) : b.size) > e.maxBindingBytes)) oversized.add(d.label);
    realDispatch(d);
  };
});

afterAll(() => {
  T.engine().dispatch = realDispatch;
});

afterEach(() => {
  T.engine().setBindingLimit(null);
  const seen = [...oversized];
  oversized.clear();
  expect(seen, 'kernels that bound more than the binding limit').toEqual([]);
});

/**
 * y = f(...leaves) and the gradients of Σ y·g with respect to each leaf (fresh leaves over the same storage on
 * every call, so gradients never accumulate across the two runs).
 */
function forwardBackward(inputs: T.Tensor[], f: (...xs: T.Tensor[]) => T.Tensor, gSeed: number): T.Tensor[] {
  const leaves = inputs.map((x) => T.detach(x).requiresGrad_());
  const y = f(...leaves);
  const g = T.scope(() => T.cast(randomTensor([...y.shape], gSeed), y.dtype));
  y.backward(g);
  g.dispose();
  const grads = leaves.map((l) => l.grad!);
  for (const l of leaves) {
    l.grad = null;
    l.dispose();
  }
  return [y, ...grads];
}

function expectClose(got: Float32Array, want: Float32Array, tol: number, what: string): void {
  expect(got.length, what).toBe(want.length);
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < got.length; i++) {
    worst = Math.max(worst, Math.abs(got[i] - want[i]));
    scale = Math.max(scale, Math.abs(want[i]));
  }
  expect(worst, `${what}: largest difference (values up to ${scale})`).toBeLessThanOrEqual(tol * Math.max(scale, 1));
}

describe('matmul and linear over the binding limit', () => {
  // The weight (45 x 29 floats) is itself over the limit: its rows are sliced, so dx = g·W sums over parts.
  test('linear with bias on [3, 37, 29] -> 45: output bit-equal, dx, dW and db close', async () => {
    const x = randomTensor([3, 37, 29], 11);
    const w = randomTensor([45, 29], 12);
    const b = randomTensor([45], 13);
    const { full, sliced } = await underTinyLimit(() => forwardBackward([x, w, b], (xx, ww, bb) => T.linear(xx, ww, bb), 14));
    expect(sliced[0], 'y').toEqual(full[0]);
    expectClose(sliced[1], full[1], 1e-5, 'dx');
    expectClose(sliced[2], full[2], 1e-5, 'dW');
    expectClose(sliced[3], full[3], 1e-5, 'db');
    for (const t of [x, w, b]) t.dispose();
  });

  test('batched matmul, a transposed and broadcast over a batch dim: [2, 1, 29, 37]ᵀ · [3, 29, 45]', async () => {
    const a = randomTensor([2, 1, 29, 37], 21);
    const b = randomTensor([3, 29, 45], 22);
    const { full, sliced } = await underTinyLimit(() => forwardBackward([a, b], (aa, bb) => T.matmul(aa, bb, { transposeA: true }), 23));
    // aᵀ is stored [K, M]: its reach in memory is along K, so K is sliced and the parts summed.
    expectClose(sliced[0], full[0], 1e-5, 'y');
    // a's gradient also sums over the batch dim it is broadcast along, b's over a's leading batch dim.
    expectClose(sliced[1], full[1], 1e-5, 'da');
    expectClose(sliced[2], full[2], 1e-5, 'db');
    a.dispose();
    b.dispose();
  });

  test('a reduction dimension too large to bind (xᵀ·g over 301 rows) is sliced and summed', async () => {
    const x = randomTensor([301, 7], 31);
    const g = randomTensor([301, 5], 32);
    const { full, sliced } = await underTinyLimit(() => forwardBackward([x, g], (xx, gg) => T.matmul(xx, gg, { transposeA: true }), 33));
    expectClose(sliced[0], full[0], 1e-5, 'y');
    // Each row of dx and dg comes from one part: the same sums as unsliced.
    expect(sliced[1], 'dx').toEqual(full[1]);
    expect(sliced[2], 'dg').toEqual(full[2]);
    x.dispose();
    g.dispose();
  });
});

describe('vec4 reads through windows, f32 and f16', () => {
  // K = 32 and head_dim 8: operands are read four at a time from windows whose starts keep 4-alignment.
  for (const dtype of ['f32', 'f16'] as const) {
    test(`${dtype} linear [3, 37, 32] -> 45 and attention [2, 3, 19, 8]`, async (ctx) => {
      if (dtype === 'f16' && !T.engine().supportsF16) ctx.skip();
      const [x, w, b] = T.scope(() => [[3, 37, 32], [45, 32], [45]].map((shape, i) => T.cast(randomTensor(shape, 101 + i), dtype)));
      const [q, k, v] = T.scope(() => [111, 112, 113].map((seed) => T.cast(randomTensor([2, 3, 19, 8], seed), dtype)));
      const { full, sliced } = await underTinyLimit(() => [
        ...forwardBackward([x, w, b], (xx, ww, bb) => T.linear(xx, ww, bb), 104),
        ...forwardBackward([q, k, v], (qq, kk, vv) => T.attention(qq, kk, vv), 114),
      ]);
      const tol = dtype === 'f16' ? 2e-3 : 1e-5;
      ['y', 'dx', 'dW', 'db', 'attention', 'dq', 'dk', 'dv'].forEach((what, i) => expectClose(sliced[i], full[i], tol, what));
      expect(sliced[0], 'linear y').toEqual(full[0]);
      for (const t of [x, w, b, q, k, v]) t.dispose();
    });
  }
});

describe('conv2d over the binding limit', () => {
  test('stride 2, padding 1 on [3, 5, 13, 11] with 11 filters: sliced by image', async () => {
    const x = randomTensor([3, 5, 13, 11], 41);
    const w = randomTensor([11, 5, 3, 3], 42);
    const b = randomTensor([11], 43);
    const conv = (xx: T.Tensor, ww: T.Tensor, bb: T.Tensor) => T.conv2d(xx, ww, bb, { stride: 2, padding: 1 });
    const { full, sliced } = await underTinyLimit(() => forwardBackward([x, w, b], conv, 44));
    expect(sliced[0], 'y').toEqual(full[0]);
    expect(sliced[1], 'dx').toEqual(full[1]);
    expectClose(sliced[2], full[2], 1e-5, 'dW');
    expectClose(sliced[3], full[3], 1e-5, 'db');
    for (const t of [x, w, b]) t.dispose();
  });

  test('one image too large: sliced by output channels and by input channels (summed)', async () => {
    const x = randomTensor([1, 9, 17, 15], 51);
    const w = randomTensor([13, 9, 3, 3], 52);
    const b = randomTensor([13], 53);
    const conv = (xx: T.Tensor, ww: T.Tensor, bb: T.Tensor) => T.conv2d(xx, ww, bb, { stride: [2, 1], padding: [1, 2] });
    const { full, sliced } = await underTinyLimit(() => forwardBackward([x, w, b], conv, 54));
    expectClose(sliced[0], full[0], 1e-5, 'y');
    expectClose(sliced[1], full[1], 1e-5, 'dx');
    expectClose(sliced[2], full[2], 1e-5, 'dW');
    expectClose(sliced[3], full[3], 1e-5, 'db');
    for (const t of [x, w, b]) t.dispose();
  });

  // Output-channel parts just under the limit: their gradients are windows of the joined gradient, whose
  // aligned starts add up to 252 bytes to what they bind.
  test('padding 1 on one image [1, 9, 17, 15]: output-channel parts whose gradients are windows', async () => {
    const x = randomTensor([1, 9, 17, 15], 55);
    const w = randomTensor([13, 9, 3, 3], 56);
    const { full, sliced } = await underTinyLimit(() => forwardBackward([x, w], (xx, ww) => T.conv2d(xx, ww, null, { padding: 1 }), 57));
    ['y', 'dx', 'dW'].forEach((what, i) => expectClose(sliced[i], full[i], 1e-5, what));
    x.dispose();
    w.dispose();
  });

  test('a patch conv (2x2, stride 2, remainder pixels dropped) on [3, 5, 13, 11]', async () => {
    const x = randomTensor([3, 5, 13, 11], 61);
    const w = randomTensor([7, 5, 2, 2], 62);
    const { full, sliced } = await underTinyLimit(() => forwardBackward([x, w], (xx, ww) => T.conv2d(xx, ww, null, { stride: 2 }), 63));
    expect(sliced[0], 'y').toEqual(full[0]);
    expect(sliced[1], 'dx').toEqual(full[1]);
    expectClose(sliced[2], full[2], 1e-5, 'dW');
    x.dispose();
    w.dispose();
  });
});

describe('attention over the binding limit', () => {
  test('contiguous q, k, v [2, 5, 21, 12]: sliced by batch and heads', async () => {
    const [q, k, v] = [71, 72, 73].map((seed) => randomTensor([2, 5, 21, 12], seed));
    const { full, sliced } = await underTinyLimit(() => forwardBackward([q, k, v], (qq, kk, vv) => T.attention(qq, kk, vv), 74));
    sliced.forEach((s, i) => expect(s, ['y', 'dq', 'dk', 'dv'][i]).toEqual(full[i]));
    for (const t of [q, k, v]) t.dispose();
  });

  test('q, k, v read in place from one interleaved qkv [2, 13, 3, 3, 6] (13 tokens, head_dim 6)', async () => {
    const qkv = randomTensor([2, 13, 3, 3, 6], 81);
    const run = (t: T.Tensor) => {
      const heads = T.permute(t, [2, 0, 3, 1, 4]);
      const [q, k, v] = [0, 1, 2].map((i) => T.squeeze(T.narrow(heads, 0, i, 1), 0));
      return T.attention(q, k, v);
    };
    const { full, sliced } = await underTinyLimit(() => forwardBackward([qkv], run, 82));
    expect(sliced[0], 'y').toEqual(full[0]);
    expect(sliced[1], 'dqkv').toEqual(full[1]);
    qkv.dispose();
  });
});

describe('biasGelu over the binding limit', () => {
  test('[3, 37, 29] + bias [29]', async () => {
    const x = randomTensor([3, 37, 29], 91);
    const b = randomTensor([29], 92);
    const { full, sliced } = await underTinyLimit(() => forwardBackward([x, b], (xx, bb) => T.biasGelu(xx, bb), 93));
    expect(sliced[0], 'y').toEqual(full[0]);
    expect(sliced[1], 'dx').toEqual(full[1]);
    expectClose(sliced[2], full[2], 1e-5, 'db');
    x.dispose();
    b.dispose();
  });
});

describe('the sliced paths free what they make', () => {
  test('no tensor outlives a sliced forward and backward of each op', async () => {
    const inputs = [[3, 37, 29], [45, 29], [45], [1, 9, 17, 15], [13, 9, 3, 3], [2, 5, 21, 12], [29]].map((s, i) => randomTensor(s, 131 + i));
    const [x, w, b, img, cw, q, bg] = inputs;
    T.setLeakTracking(true);
    const live = T.liveTensors().length;
    T.engine().setBindingLimit(4096);
    const runs: [T.Tensor[], (...xs: T.Tensor[]) => T.Tensor][] = [
      [[x, w, b], (xx, ww, bb) => T.linear(xx, ww, bb)],
      [[img, cw], (xx, ww) => T.conv2d(xx, ww, null, { padding: 1 })],
      [[q], (qq) => T.attention(qq, qq, qq)],
      [[x, bg], (xx, bb) => T.biasGelu(xx, bb)],
    ];
    try {
      for (const [args, f] of runs) {
        for (const t of forwardBackward(args, f, 139)) t.dispose();
        expect(T.liveTensors().slice(live).map((t) => t.op)).toEqual([]);
      }
    } finally {
      T.setLeakTracking(false);
      inputs.forEach((t) => t.dispose());
    }
  });
});

describe('what cannot be sliced is refused by name', () => {
  test('biasGelu whose bias (one row, 2000 floats) is larger than the limit', () => {
    const x = randomTensor([3, 2000], 121);
    const b = randomTensor([2000], 122);
    T.engine().setBindingLimit(4096);
    expect(() => T.biasGelu(x, b)).toThrow(/bias_gelu: a tensor of shape \[2000\].*cannot be sliced further/);
    T.engine().setBindingLimit(null);
    x.dispose();
    b.dispose();
  });
});

describe('under the device limit nothing slices', () => {
  test('each forward of these shapes is one dispatch, as before slicing existed', () => {
    const x = randomTensor([3, 37, 29], 1);
    const w = randomTensor([45, 29], 2);
    const b = randomTensor([45], 3);
    const img = randomTensor([3, 5, 13, 11], 4);
    const cw = randomTensor([11, 5, 3, 3], 5);
    const q = randomTensor([2, 5, 21, 12], 6);
    const bg = randomTensor([29], 7);
    const ops: [string, () => T.Tensor][] = [
      ['linear', () => T.linear(x, w, b)],
      ['matmul', () => T.matmul(x, w, { transposeB: true })],
      ['conv2d', () => T.conv2d(img, cw, null, { stride: 2, padding: 1 })],
      ['attention', () => T.attention(q, q, q)],
      ['biasGelu', () => T.biasGelu(x, bg)],
    ];
    for (const [name, run] of ops) {
      const before = T.engine().stats().dispatches;
      run().dispose();
      expect(T.engine().stats().dispatches - before, name).toBe(1);
    }
    for (const t of [x, w, b, img, cw, q, bg]) t.dispose();
  });
});
