import { beforeAll, describe, expect, test } from 'vitest';
import * as T from '../src/index.ts';
import type { Tensor } from '../src/index.ts';
import { checkCase, expectClose, loadGroup, TOL } from '../../../test/support/fixtures.ts';
import { gradcheck, randomND, seededUniform } from '../../../test/support/gradcheck.ts';
import { at, build, concatND, sliceND, transposeND } from './support/ndref.ts';

beforeAll(async () => {
  await T.init();
});

const group = loadGroup('ops/shape.json');

/** Runs one shape.json case by its params.op; an op this file does not know fails the test. */
function runCase(inp: Record<string, Tensor>, p: Record<string, unknown>): Record<string, Tensor> {
  switch (p.op) {
    case 'concat':
      return { out: T.concat((p.order as string[]).map((k) => inp[k]), p.dim as number) };
    case 'split': {
      const parts = T.split(inp.x, p.sizes as number[], p.dim as number);
      return Object.fromEntries(parts.map((t, i) => [`out${i}`, t]));
    }
    case 'permute':
      return { out: T.permute(inp.x, p.dims as number[]) };
    case 'transpose':
      return { out: T.transpose(inp.x, p.dim0 as number, p.dim1 as number) };
    case 'slice':
      return { out: T.slice(inp.x, p.slices as [number, number, number][]) };
    case 'flip':
      return { out: T.flip(inp.x, p.dims as number[]) };
    case 'transpose+reshape': {
      // SeCo's to_2D: (B, h*w, C) -> transpose(1, 2) -> (B, C, h, w).
      const [b, , ch] = inp.x.shape;
      return { out: T.reshape(T.transpose(inp.x, 1, 2), [b, ch, p.h as number, p.w as number]) };
    }
    default:
      throw new Error(`shape.json: no runner for op ${String(p.op)}`);
  }
}

describe('shape ops against PyTorch fixtures', () => {
  for (const c of group.cases) test(c.name, () => checkCase(c, runCase));
});

describe('concat, split, stack by finite differences (f64 CPU reference)', () => {
  test('concat along dim 1 of a transposed, a plain and a sliced input', async () => {
    const rng = seededUniform(11);
    await gradcheck({
      label: 'concat strided',
      inputs: [randomND([13, 7], rng), randomND([7, 37], rng), randomND([7, 3], rng)],
      gpu: ([a, b, c]) => T.concat([T.transpose(a, 0, 1), b, T.slice(c, [null, [1, 3]])], 1),
      cpu: ([a, b, c]) => concatND([transposeND(a, 0, 1), b, sliceND(c, [[0, 7, 1], [1, 3, 1]])], 1),
    });
  });

  test('concat along dims 0 and -1 of rank-3 tensors, the same input twice', async () => {
    const rng = seededUniform(12);
    await gradcheck({
      label: 'concat dim 0',
      inputs: [randomND([2, 7, 13], rng), randomND([5, 7, 13], rng)],
      gpu: ([a, b]) => T.concat([a, b, a], 0),
      cpu: ([a, b]) => concatND([a, b, a], 0),
    });
    await gradcheck({
      label: 'concat dim -1',
      inputs: [randomND([3, 7, 13], rng), randomND([3, 7, 1], rng)],
      gpu: ([a, b]) => T.concat([a, b], -1),
      cpu: ([a, b]) => concatND([a, b], 2),
    });
  });

  test('split of a permuted input; unused pieces get zero gradient', async () => {
    const rng = seededUniform(13);
    await gradcheck({
      label: 'split',
      inputs: [randomND([13, 7, 5], rng)],
      gpu: ([x]) => {
        const [p0, , p2] = T.split(T.permute(x, [1, 0, 2]), [3, 4, 6], 1);
        return T.concat([p2, p0], 1);
      },
      cpu: ([x]) => {
        const xp = build([7, 13, 5], (c) => at(x, [c[1], c[0], c[2]]));
        const piece = (s: number, e: number) => sliceND(xp, [[0, 7, 1], [s, e, 1], [0, 5, 1]]);
        return concatND([piece(7, 13), piece(0, 3)], 1);
      },
    });
  });

  test('unbind: views without the dimension; one backward joins the gradients (no zeros, no sums)', async () => {
    const rng = seededUniform(17);
    await gradcheck({
      label: 'unbind',
      inputs: [randomND([3, 5, 4], rng)],
      gpu: ([x]) => {
        const [a, b, c] = T.unbind(T.permute(x, [1, 0, 2]), 1);
        return T.concat([T.mul(a, b), c], 0);
      },
      cpu: ([x]) => {
        const xp = build([5, 3, 4], (c) => at(x, [c[1], c[0], c[2]]));
        const row = (i: number) => build([5, 4], (c) => at(xp, [c[0], i, c[1]]));
        const [a, b, c] = [0, 1, 2].map(row);
        return concatND([build([5, 4], (k) => at(a, k) * at(b, k)), c], 0);
      },
    });
    const x = T.arange(24, 'f32').reshape([2, 3, 4]).requiresGrad_();
    const parts = T.unbind(x, 1);
    expect(parts.map((p) => p.shape)).toEqual([[2, 4], [2, 4], [2, 4]]);
    expect(parts[1].storage).toBe(x.storage);
    expect(Array.from(await parts[2].data())).toEqual([8, 9, 10, 11, 20, 21, 22, 23]);
    // The gradient of all three is one concat: no zeros per slice, no sums of slice gradients.
    const e = T.engine();
    const labels: string[] = [];
    const dispatch = e.dispatch.bind(e);
    e.dispatch = (d) => {
      labels.push(d.label);
      dispatch(d);
    };
    try {
      const loss = T.add(T.add(T.sum(parts[0]), T.sum(T.mul(parts[1], 2))), T.sum(T.mul(parts[2], 3)));
      labels.length = 0;
      loss.backward();
      await x.grad!.data();
    } finally {
      e.dispatch = dispatch;
    }
    expect(labels.filter((l) => l === 'add')).toEqual([]);
    expect(labels.filter((l) => l === 'full').length, 'at most the seed of backward').toBeLessThanOrEqual(1);
    expect(Array.from(await x.grad!.data())).toEqual([1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]);
  });

  test('split by section size and chunk follow torch sizes; pieces are views', async () => {
    const x = T.arange(13 * 2, 'f32').reshape([13, 2]);
    expect(T.split(x, 4).map((t) => t.shape[0])).toEqual([4, 4, 4, 1]);
    expect(T.chunk(x, 4).map((t) => t.shape[0])).toEqual([4, 4, 4, 1]);
    expect(T.chunk(T.arange(6, 'f32'), 4).map((t) => t.shape[0])).toEqual([2, 2, 2]);
    expect(T.chunk(T.arange(5, 'f32'), 3).map((t) => t.shape[0])).toEqual([2, 2, 1]);
    const [, second] = x.split([3, 10], 0);
    expect(second.storage).toBe(x.storage);
    expect(Array.from(await second.narrow(0, 2, 2).data())).toEqual([10, 11, 12, 13]);
  });

  test('stack at a middle and at the last new dimension', async () => {
    const rng = seededUniform(14);
    const stackND = (xs: { data: Float64Array; shape: number[] }[], d: number) =>
      build([...xs[0].shape.slice(0, d), xs.length, ...xs[0].shape.slice(d)], (c) => at(xs[c[d]], c.filter((_, i) => i !== d)));
    await gradcheck({
      label: 'stack dim 1',
      inputs: [randomND([7, 13], rng), randomND([7, 13], rng), randomND([7, 13], rng)],
      gpu: (xs) => T.stack(xs, 1),
      cpu: (xs) => stackND(xs, 1),
    });
    await gradcheck({
      label: 'stack dim -1 of transposed views',
      inputs: [randomND([13, 7], rng), randomND([13, 7], rng)],
      gpu: (xs) => T.stack(xs.map((x) => T.transpose(x, 0, 1)), -1),
      cpu: (xs) => stackND(xs.map((x) => transposeND(x, 0, 1)), 2),
    });
  });

  test('integer tensors concatenate exactly', async () => {
    const a = T.tensor([[1, -2], [3, 4]], undefined, 'i32');
    const b = T.tensor([[5], [2147483647]], undefined, 'i32');
    const c = T.concat([a, b], 1);
    expect(c.dtype).toBe('i32');
    expect(await c.array()).toEqual([[1, -2, 5], [3, 4, 2147483647]]);
  });
});

describe('flip, repeat, tile', () => {
  test('flip of a strided view over two dims', async () => {
    const rng = seededUniform(21);
    await gradcheck({
      label: 'flip',
      inputs: [randomND([7, 14, 37], rng)],
      gpu: ([x]) => T.flip(T.slice(x, [null, [1, 14, 2]]), [0, -1]),
      cpu: ([x]) => build([7, 7, 37], (c) => at(x, [6 - c[0], 1 + 2 * c[1], 36 - c[2]])),
    });
  });

  test('flip of integers and of an empty flip list', async () => {
    const x = T.tensor([[1, 2, 3], [4, 5, 6]], undefined, 'i32');
    expect(await T.flip(x, [0, 1]).array()).toEqual([[6, 5, 4], [3, 2, 1]]);
    expect(await x.flip([]).array()).toEqual([[1, 2, 3], [4, 5, 6]]);
  });

  test('repeat with an extra leading dim, and tile, of a transposed view', async () => {
    const rng = seededUniform(22);
    await gradcheck({
      label: 'repeat',
      inputs: [randomND([3, 7], rng)],
      gpu: ([x]) => T.repeat(T.transpose(x, 0, 1), [2, 3, 2]),
      cpu: ([x]) => build([2, 21, 6], (c) => at(x, [c[2] % 3, c[1] % 7])),
    });
    await gradcheck({
      label: 'tile',
      inputs: [randomND([5, 3], rng)],
      gpu: ([x]) => T.tile(x, [2]),
      cpu: ([x]) => build([5, 6], (c) => at(x, [c[0], c[1] % 3])),
    });
  });

  test('repeat matches torch on a small example', async () => {
    const x = T.tensor([[1, 2]]);
    expect(await x.repeat([2, 2]).array()).toEqual([[1, 2, 1, 2], [1, 2, 1, 2]]);
    expect(await T.tile(T.tensor([1, 2]), [2, 1, 2]).array()).toEqual([[[1, 2, 1, 2]], [[1, 2, 1, 2]]]);
  });
});

describe('empty tensors', () => {
  test('zero-length pieces, zero reps and constant padding of an empty dim', async () => {
    const x = T.tensor([[1, 2], [3, 4]]);
    const c = T.concat([x, T.zeros([2, 0]), x], 1);
    expect(await c.array()).toEqual([[1, 2, 1, 2], [3, 4, 3, 4]]);
    expect(T.split(x, [0, 2, 0], 1).map((t) => t.shape)).toEqual([[2, 0], [2, 2], [2, 0]]);
    expect(T.repeat(x, [0, 3]).shape).toEqual([0, 6]);
    expect(await T.pad(T.zeros([1, 0]), [1, 1], 'constant', 5).array()).toEqual([[5, 5]]);
    expect(T.flip(T.zeros([0, 3]), [0, 1]).shape).toEqual([0, 3]);
  });
});

describe('backward rules are differentiable (createGraph)', () => {
  test('second derivative through concat, flip, pad and split', async () => {
    // f(x) = Σ w1·concat(x, flip(x))² + Σ w2·pad(x, replicate)². The upstream gradients of the shape ops
    // depend on x, so the second derivative runs through their backward rules: f''_ii = 2·(w1[i] + w1[5-i] + W2_i)
    // with W2 the replicate-accumulated w2.
    const xv = [0.5, -1.25, 2];
    const x = T.tensor(xv).requiresGrad_();
    const w1 = T.tensor([1, 2, 3, 4, 5, 6]);
    const w2 = T.tensor([1, 10, 100, 1000, 10000]);
    const [a, b] = T.split(T.concat([x, T.flip(x, 0)], 0), [2, 4]);
    const c = T.concat([a, b]);
    const p = T.pad(x, [1, 1], 'replicate');
    const f = T.add(T.sum(T.mul(T.mul(c, c), w1)), T.sum(T.mul(T.mul(p, p), w2)));
    // retainGraph too: the second pass runs through the forward nodes (PyTorch implies it from create_graph).
    f.backward(undefined, { createGraph: true, retainGraph: true });
    const g = x.grad!;
    x.grad = null;
    const h = [0, 1, 2].map((i) => 2 * ([1, 2, 3][i] + [6, 5, 4][i] + [11, 100, 11000][i]));
    expectClose(await g.data(), h.map((v, i) => v * xv[i]), TOL.forward, 'first derivative');
    T.sum(g).backward();
    expectClose(await x.grad!.data(), h, TOL.forward, 'second derivative');
  });
});

describe('memory', () => {
  test('forward and backward of every shape op leave no live tensor behind', async () => {
    T.setLeakTracking(true);
    try {
      const x = T.rand([3, 5, 4]).requiresGrad_();
      const y = T.rand([3, 2, 4]).requiresGrad_();
      // No sum() in the path: only shape ops and their backward rules are under test.
      const out = T.scope(() => {
        const [p0, p1] = T.split(T.concat([x, y], 1), [4, 3], 1);
        const parts = [T.flip(p0, [0, 2]), T.pad(p1, [1, 2, 3, 4], 'replicate'), T.pad(x, [1, 1], 'constant', 2)];
        const st = T.stack(parts.map((p) => T.narrow(p.flatten(), 0, 0, 20)), 1);
        const tiled = T.repeat(st, [2, 2]);
        return T.concat([tiled.flatten(), T.chunk(x.flatten(), 7)[6]], 0);
      });
      // Backward outside any scope, so a temporary that a backward rule forgets to free stays live.
      const seed = T.onesLike(out);
      out.backward(seed);
      out.dispose();
      seed.dispose();
      await x.grad!.data();
      for (const t of [x, y, x.grad!, y.grad!]) t.dispose();
      expect(T.liveTensors().map((t) => `${t.op} [${t.shape}]\n${t.stack}`)).toEqual([]);
    } finally {
      T.setLeakTracking(false);
    }
  });
});

describe('shape op errors name the op and the shapes', () => {
  const a = () => T.zeros([2, 3]);
  test.each([
    ['concat of mismatched shapes', () => T.concat([a(), T.zeros([3, 3])], 1), /concat: .*\[2, 3\], \[3, 3\]/],
    ['concat of mixed dtypes', () => T.concat([a(), T.zeros([2, 3], 'i32')], 0), /concat: dtypes differ: f32, i32/],
    ['concat of ranks', () => T.concat([a(), T.zeros([2, 3, 1])], 0), /concat: shapes must match/],
    ['concat of nothing', () => T.concat([], 0), /concat: needs at least one tensor/],
    ['concat dim out of range', () => T.concat([a()], 2), /concat: dim 2 out of range for rank 2/],
    ['split sizes that do not sum', () => T.split(a(), [1, 1], 1), /split: sizes \[1, 1\] do not sum to dimension 1 \(3\).*\[2, 3\]/],
    ['split by zero', () => T.split(a(), 0, 1), /split: section size must be a positive integer/],
    ['chunk of zero', () => T.chunk(a(), 0), /chunk: chunks must be a positive integer/],
    ['stack of different shapes', () => T.stack([a(), T.zeros([3, 2])]), /stack: all tensors must have the same shape.*\[2, 3\], \[3, 2\]/],
    ['stack dim out of range', () => T.stack([a()], 3), /stack: dim 3 out of range for rank 3/],
    ['flip of a repeated dim', () => T.flip(a(), [1, -1]), /flip: dims \[1, -1\] repeat/],
    ['flip dim out of range', () => T.flip(a(), [2]), /flip: dim 2 out of range/],
    ['repeat with too few reps', () => T.repeat(a(), [2]), /repeat: needs at least 2 non-negative integer reps.*\[2, 3\]/],
    ['narrow past the end', () => T.narrow(a(), 1, 2, 2), /narrow: range 2..4 out of bounds for dim 1/],
  ])('%s', (_name, fn, message) => {
    expect(fn).toThrow(T.TensorError);
    expect(fn).toThrow(message);
  });
});
