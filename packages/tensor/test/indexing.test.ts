import { beforeAll, describe, expect, test } from 'vitest';
import * as T from '../src/index.ts';
import type { Tensor } from '../src/index.ts';
import { checkCase, expectClose, loadGroup, TOL } from '../../../test/support/fixtures.ts';
import { gradcheck, type ND, randomND, seededUniform } from '../../../test/support/gradcheck.ts';
import { at, build, coordsOf, flatOf, randomInts, transposeND } from './support/ndref.ts';

beforeAll(async () => {
  await T.init();
});

const group = loadGroup('ops/indexing.json');

function runCase(inp: Record<string, Tensor>, p: Record<string, unknown>): Record<string, Tensor> {
  if (p.op === 'gather') return { out: T.gather(inp.x, p.dim as number, inp.index) };
  if (p.op === 'index_select') return { out: T.indexSelect(inp.x, p.dim as number, inp.index) };
  throw new Error(`indexing.json: no runner for op ${String(p.op)}`);
}

describe('indexing against PyTorch fixtures', () => {
  for (const c of group.cases) test(c.name, () => checkCase(c, runCase, { constant: ['index'] }));
});

// ---------------------------------------------------------------- references

const gatherND = (x: ND, dim: number, idx: number[], idxShape: number[]): ND =>
  build(idxShape, (c) => at(x, c.map((v, d) => (d === dim ? idx[flatOf(c, idxShape)] : v))));

function scatterAddND(x: ND, dim: number, idx: number[], idxShape: number[], src: ND): ND {
  const out = { data: Float64Array.from(x.data), shape: [...x.shape] };
  for (let i = 0; i < idx.length; i++) {
    const c = coordsOf(i, idxShape);
    const j = idx[i];
    if (j < 0 || j >= x.shape[dim]) continue;
    out.data[flatOf(c.map((v, d) => (d === dim ? j : v)), x.shape)] += at(src, c);
  }
  return out;
}

const indexSelectND = (x: ND, dim: number, idx: number[], idxShape: number[]): ND =>
  build([...x.shape.slice(0, dim), ...idxShape, ...x.shape.slice(dim + 1)], (c) => {
    const k = flatOf(c.slice(dim, dim + idxShape.length), idxShape);
    return at(x, [...c.slice(0, dim), idx[k], ...c.slice(dim + idxShape.length)]);
  });

const ints = (data: number[], shape: number[], dtype: T.DType = 'i32') => T.tensor(data, shape, dtype);

// ---------------------------------------------------------------- finite differences

describe('gather and scatterAdd by finite differences (f64 CPU reference)', () => {
  test('gather along each dim of 7x13x37, repeated indices, index smaller than the input', async () => {
    const rng = seededUniform(41);
    const xs = [7, 13, 37];
    for (let dim = 0; dim < 3; dim++) {
      const idxShape = [5, 11, 9].map((s, d) => (d === dim ? 23 : s));
      const idx = randomInts(idxShape.reduce((a, b) => a * b, 1), 0, xs[dim], rng);
      await gradcheck({
        label: `gather dim ${dim}`,
        inputs: [randomND(xs, rng)],
        gpu: ([x]) => T.gather(x, dim, ints(idx, idxShape)),
        cpu: ([x]) => gatherND(x, dim, idx, idxShape),
      });
    }
  });

  test('gather from a transposed input with a transposed (strided) index', async () => {
    const rng = seededUniform(42);
    // The index tensor is stored as [9, 7] and used transposed, as [7, 9]: entry (i, j) = stored[j * 7 + i].
    const stored = randomInts(63, 0, 13, rng);
    const idx = build([7, 9], (c) => stored[c[1] * 7 + c[0]]);
    await gradcheck({
      label: 'gather strided',
      inputs: [randomND([13, 7], rng)],
      gpu: ([x]) => T.gather(T.transpose(x, 0, 1), 1, T.transpose(ints(stored, [9, 7]), 0, 1)),
      cpu: ([x]) => gatherND(transposeND(x, 0, 1), 1, Array.from(idx.data), [7, 9]),
    });
  });

  test('scatterAdd into x from a larger src: gradients of both, src entries beyond the index get none', async () => {
    const rng = seededUniform(43);
    const idxShape = [4, 9];
    const idx = randomInts(36, 0, 7, rng);
    await gradcheck({
      label: 'scatterAdd',
      inputs: [randomND([7, 13], rng), randomND([5, 13], rng)],
      gpu: ([x, src]) => T.scatterAdd(x, 0, ints(idx, idxShape), src),
      cpu: ([x, src]) => scatterAddND(x, 0, idx, idxShape, src),
    });
  });

  test('scatterAdd along the last dim of a transposed input, many repeats', async () => {
    const rng = seededUniform(44);
    const idx = randomInts(3 * 37, 0, 3, rng);
    await gradcheck({
      label: 'scatterAdd repeats',
      inputs: [randomND([7, 3], rng), randomND([3, 37], rng)],
      gpu: ([x, src]) => T.scatterAdd(T.transpose(x, 0, 1), 1, ints(idx, [3, 37]), src),
      cpu: ([x, src]) => scatterAddND(transposeND(x, 0, 1), 1, idx, [3, 37], src),
    });
  });
});

describe('indexSelect, indexAdd, embedding by finite differences', () => {
  test('indexSelect along a middle dim of a sliced input, 1-D and 2-D indices', async () => {
    const rng = seededUniform(51);
    const idx = randomInts(13, 0, 7, rng);
    await gradcheck({
      label: 'indexSelect 1-D',
      inputs: [randomND([5, 14, 7], rng)],
      gpu: ([x]) => T.indexSelect(T.transpose(T.slice(x, [null, [0, 14, 2]]), 1, 2), 1, ints(idx, [13])),
      cpu: ([x]) => indexSelectND(build([5, 7, 7], (c) => at(x, [c[0], 2 * c[2], c[1]])), 1, idx, [13]),
    });
    const idx2 = randomInts(3 * 4, 0, 37, rng);
    await gradcheck({
      label: 'indexSelect 2-D index',
      inputs: [randomND([2, 37, 3], rng)],
      gpu: ([x]) => T.indexSelect(x, 1, ints(idx2, [3, 4])),
      cpu: ([x]) => indexSelectND(x, 1, idx2, [3, 4]),
    });
  });

  test('embedding rows by ids of shape [2, 7]', async () => {
    const rng = seededUniform(52);
    const ids = randomInts(14, 0, 13, rng);
    await gradcheck({
      label: 'embedding',
      inputs: [randomND([13, 5], rng)],
      gpu: ([w]) => T.embedding(w, ints(ids, [2, 7], 'u32')),
      cpu: ([w]) => indexSelectND(w, 0, ids, [2, 7]),
    });
  });

  test('indexAdd with repeats, gradients of x and src', async () => {
    const rng = seededUniform(53);
    const idx = randomInts(13, 0, 7, rng);
    await gradcheck({
      label: 'indexAdd',
      inputs: [randomND([3, 7, 5], rng), randomND([3, 13, 5], rng)],
      gpu: ([x, src]) => T.indexAdd(x, 1, ints(idx, [13]), src),
      cpu: ([x, src]) =>
        build([3, 7, 5], (c) => {
          let s = at(x, c);
          idx.forEach((j, k) => j === c[1] && (s += at(src, [c[0], k, c[2]])));
          return s;
        }),
    });
  });
});

describe('indexAdd with long indices (grouped by target, kernels/segments.ts)', () => {
  const indexAddND = (x: ND, idx: number[], src: ND): ND => {
    const out = { data: Float64Array.from(x.data), shape: [...x.shape] };
    const w = x.shape[1];
    idx.forEach((j, k) => {
      if (j < 0 || j >= x.shape[0]) return;
      for (let c = 0; c < w; c++) out.data[j * w + c] += src.data[k * w + c];
    });
    return out;
  };

  test('1000 targets (several per scan block), 300 entries with repeats and out-of-range ones', async () => {
    const rng = seededUniform(81);
    const K = 300;
    expect(K).toBeGreaterThanOrEqual(T.SEGMENT_MIN_ENTRIES);
    const idx = randomInts(K, -5, 1005, rng);
    await gradcheck({
      label: 'indexAdd segments',
      inputs: [randomND([1000, 3], rng), randomND([K, 3], rng)],
      gpu: ([x, src]) => T.indexAdd(x, 0, ints(idx, [K]), src),
      cpu: ([x, src]) => indexAddND(x, idx, src),
    });
  });

  test('indexSelect backward through segments: embedding of 200 ids over 13 rows', async () => {
    const rng = seededUniform(82);
    const ids = randomInts(200, 0, 13, rng);
    await gradcheck({
      label: 'embedding long',
      inputs: [randomND([13, 7], rng)],
      gpu: ([w]) => T.embedding(w, ints(ids, [8, 25])),
      cpu: ([w]) => indexSelectND(w, 0, ids, [8, 25]),
    });
  });

  test('gives the same bits as the plain walk of scatterAdd (same summation order)', async () => {
    const rng = seededUniform(83);
    const K = 500;
    const idx = randomInts(K, 0, 37, rng);
    const src = T.tensor(Float32Array.from({ length: K * 7 }, () => rng(-100, 100)), [K, 7]);
    const x = T.tensor(Float32Array.from({ length: 37 * 7 }, () => rng(-1, 1)), [37, 7]);
    const i1 = ints(idx, [K]);
    const viaSegments = await T.indexAdd(x, 0, i1, src).data();
    const viaWalk = await T.scatterAdd(x, 0, T.expand(T.reshape(i1, [K, 1]), [K, 7]), src).data();
    expect(Array.from(viaSegments)).toEqual(Array.from(viaWalk));
  });
});

// ---------------------------------------------------------------- defined behaviour

describe('out-of-range indices, determinism, integer data', () => {
  test('reads give 0 and accumulations drop entries for indices < 0 or >= size', async () => {
    const x = T.tensor([[1, 2, 3], [4, 5, 6]]);
    expect(await T.gather(x, 1, ints([2, -1, 3, 0], [2, 2])).array()).toEqual([[3, 0], [0, 4]]);
    expect(await T.indexSelect(x, 0, ints([1, 2, 0, 7], [4], 'u32')).array()).toEqual([[4, 5, 6], [0, 0, 0], [1, 2, 3], [0, 0, 0]]);
    const s = T.scatterAdd(T.zeros([2, 3]), 1, ints([0, 5, -2, 2], [2, 2]), T.ones([2, 2]));
    expect(await s.array()).toEqual([[1, 0, 0], [0, 0, 1]]);
    expect(await T.oneHot(ints([1, -1, 3], [3]), 3).array()).toEqual([[0, 1, 0], [0, 0, 0], [0, 0, 0]]);
  });

  test('checkIndices reports the first bad index by position', async () => {
    await expect(T.checkIndices('gather', ints([0, 2, 5], [3]), 3)).rejects.toThrow(/gather: index 5 at position 2 is out of range for a dimension of size 3/);
    await expect(T.checkIndices('gather', ints([0, 2, 1], [3]), 3)).resolves.toBeUndefined();
  });

  test('scatterAdd with 4000 contributions to one cell is bitwise repeatable and sums in index order', async () => {
    const n = 4000;
    const rng = seededUniform(61);
    const vals = Float32Array.from({ length: n }, () => rng(-1, 1) * 1000);
    const src = T.tensor(vals, [1, n]);
    const idx = ints(new Array(n).fill(1), [1, n]);
    const a = await T.scatterAdd(T.zeros([1, 2]), 1, idx, src).data();
    const b = await T.scatterAdd(T.zeros([1, 2]), 1, idx, src).data();
    expect(Array.from(a)).toEqual(Array.from(b));
    let seq = 0;
    for (const v of vals) seq = Math.fround(seq + v);
    expect(a[0]).toBe(0);
    expect(a[1]).toBe(seq);
  });

  test('integer scatterAdd counts (a histogram) exactly; oneHot as f32', async () => {
    const labels = ints([2, 0, 2, 2, 1], [5]);
    const h = T.scatterAdd(T.zeros([4], 'i32'), 0, labels, T.ones([5], 'i32'));
    expect(h.dtype).toBe('i32');
    expect(Array.from(await h.data())).toEqual([1, 1, 3, 0]);
    const oh = T.oneHot(T.transpose(ints([0, 1, 2, 0, 1, 2], [2, 3]), 0, 1), 3, 'f32');
    expect(oh.shape).toEqual([3, 2, 3]);
    expect(await oh.array()).toEqual([[[1, 0, 0], [1, 0, 0]], [[0, 1, 0], [0, 1, 0]], [[0, 0, 1], [0, 0, 1]]]);
  });

  test('method sugar', async () => {
    const x = T.tensor([[1, 2], [3, 4]]);
    const i = ints([1, 1], [2, 1]);
    expect(await x.gather(1, i).array()).toEqual([[2], [4]]);
    expect(await x.indexSelect(0, ints([1], [1])).array()).toEqual([[3, 4]]);
    expect(await x.scatterAdd(1, i, T.ones([2, 1])).array()).toEqual([[1, 3], [3, 5]]);
    expect(await x.indexAdd(0, ints([0, 0], [2]), T.ones([2, 2])).array()).toEqual([[3, 4], [3, 4]]);
  });
});

describe('backward rules are differentiable (createGraph)', () => {
  test.each([
    ['gather', (x: Tensor, i: Tensor) => T.gather(x, 0, i)],
    ['indexSelect', (x: Tensor, i: Tensor) => T.indexSelect(x, 0, i)],
  ])('second derivative through %s and its scatter/index-add rule', async (_name, pick) => {
    // f = Σ_k w_k·x[idx_k]²: f'_i = 2·x_i·W_i and f''_ii = 2·W_i, W_i = Σ of w_k over the k with idx_k = i.
    const xv = [0.5, -1.5, 2];
    const x = T.tensor(xv).requiresGrad_();
    const y = pick(x, ints([0, 0, 2, 1], [4]));
    const f = T.sum(T.mul(T.mul(y, y), T.tensor([1, 2, 3, 4])));
    f.backward(undefined, { createGraph: true, retainGraph: true });
    const g = x.grad!;
    x.grad = null;
    expectClose(await g.data(), [6 * 0.5, 8 * -1.5, 6 * 2], TOL.forward, 'first derivative');
    T.sum(g).backward();
    expectClose(await x.grad!.data(), [6, 8, 6], TOL.forward, 'second derivative');
  });
});

describe('memory', () => {
  test('forward and backward of every indexing op leave no live tensor behind', async () => {
    T.setLeakTracking(true);
    try {
      const x = T.rand([6, 5]).requiresGrad_();
      const src = T.rand([70, 5]).requiresGrad_();
      const i2 = ints([0, 3, 3, 5, 1, 0], [3, 2]);
      const i70 = ints(new Array(70).fill(0).map((_, k) => k % 6), [70]);
      // No sum() in the path: only indexing ops and their backward rules are under test.
      const out = T.scope(() => {
        const a = T.gather(x, 1, i2);
        const b = T.indexSelect(x, 0, i2);
        const c = T.scatterAdd(x, 0, i2, src);
        const d = T.indexAdd(x, 0, i70, src);
        const e = T.embedding(x, i70);
        return T.concat([a, b, c, d, e, T.oneHot(i2, 6, 'f32')].map((t) => t.flatten()));
      });
      // Backward outside any scope, so a temporary that a backward rule forgets to free stays live.
      const seed = T.onesLike(out);
      out.backward(seed);
      out.dispose();
      seed.dispose();
      await x.grad!.data();
      for (const t of [x, src, x.grad!, src.grad!, i2, i70]) t.dispose();
      expect(T.liveTensors().map((t) => `${t.op} [${t.shape}]\n${t.stack}`)).toEqual([]);
    } finally {
      T.setLeakTracking(false);
    }
  });
});

describe('indexing errors name the op, dtypes and shapes', () => {
  const x = () => T.zeros([2, 3]);
  const i2 = () => ints([0, 1], [2, 1]);
  test.each([
    ['a float index', () => T.gather(x(), 1, T.zeros([2, 1])), /gather: index must be i32 or u32, got f32/],
    ['gather dim out of range', () => T.gather(x(), 2, i2()), /gather: dim 2 out of range for rank 2.*\[2, 3\]/],
    ['gather index of another rank', () => T.gather(x(), 1, ints([0], [1])), /gather: index must have the input's rank.*\[2, 3\], \[1\]/],
    ['gather index larger off dim', () => T.gather(x(), 1, ints([0, 0, 0], [3, 1])), /gather: .*\[2, 3\], \[3, 1\]/],
    ['scatterAdd src dtype', () => T.scatterAdd(x(), 1, i2(), T.zeros([2, 1], 'i32')), /scatterAdd: src dtype i32 differs from input dtype f32/],
    ['scatterAdd index larger than src', () => T.scatterAdd(x(), 1, ints([0, 0, 0, 0], [2, 2]), T.zeros([2, 1])), /scatterAdd: .*\[2, 3\], \[2, 2\], \[2, 1\]/],
    ['indexSelect dim out of range', () => T.indexSelect(x(), -3, ints([0], [1])), /indexSelect: dim -3 out of range/],
    ['indexAdd with a 2-D index', () => T.indexAdd(x(), 0, i2(), T.zeros([2, 3])), /indexAdd: needs a 1-D index.*\[2, 3\], \[2, 1\], \[2, 3\]/],
    ['indexAdd src of the wrong length', () => T.indexAdd(x(), 0, ints([0, 1, 1], [3]), T.zeros([2, 3])), /indexAdd: .*\[2, 3\], \[3\], \[2, 3\]/],
    ['oneHot of zero classes', () => T.oneHot(ints([0], [1]), 0), /oneHot: numClasses must be a positive integer, got 0/],
    ['embedding of a scalar weight', () => T.embedding(T.scalar(1), ints([0], [1])), /embedding: weight needs at least one dimension/],
  ])('%s', (_name, fn, message) => {
    expect(fn).toThrow(T.TensorError);
    expect(fn).toThrow(message);
  });
});
