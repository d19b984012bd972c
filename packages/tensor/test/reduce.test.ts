import { beforeAll, describe, expect, test } from 'vitest';
import * as T from '../src/index.ts';
import { checkCase, loadGroup } from '../../../test/support/fixtures.ts';
import { cpuPermute, gradcheck, type ND, randomND, seededUniform } from '../../../test/support/gradcheck.ts';

beforeAll(async () => {
  await T.init();
});

const group = loadGroup('ops/reduce.json');

function run(x: T.Tensor, p: Record<string, unknown>): Record<string, T.Tensor> {
  const dim = p.dim as number | null;
  const keep = (p.keepdim as boolean | undefined) ?? false;
  switch (p.op) {
    case 'sum':
      return { out: T.sum(x, dim, keep) };
    case 'mean':
      return { out: T.mean(x, dim, keep) };
    case 'max':
    case 'min': {
      const r = (p.op === 'max' ? T.max : T.min)(x, dim, keep);
      if (dim === null) {
        r.indices.dispose();
        return { out: r.values };
      }
      return { values: r.values, indices: r.indices };
    }
    case 'argmax':
      return { out: T.argmax(x, dim, keep) };
    default:
      throw new Error(`unknown op ${String(p.op)}`);
  }
}

describe('reductions against PyTorch fixtures', () => {
  for (const c of group.cases) {
    test(c.name, async () => {
      await checkCase(c, (inp, p) => run(inp.x, p));
    });
  }
});

/** f64 reduction of a dense array over `axes` (all when null), keeping reduced dims as size 1. */
function cpuReduce(x: ND, axes: number[] | null, f: (vals: number[]) => number, keepdim = false): ND {
  const r = x.shape.length;
  const set = new Set((axes ?? x.shape.map((_, i) => i)).map((a) => (a < 0 ? a + r : a)));
  const keepShape = x.shape.map((s, i) => (set.has(i) ? 1 : s));
  const outN = keepShape.reduce((a, b) => a * b, 1);
  const groups: number[][] = Array.from({ length: outN }, () => []);
  const idx = new Array<number>(r).fill(0);
  for (let f0 = 0; f0 < x.data.length; f0++) {
    let rem = f0;
    for (let d = r - 1; d >= 0; d--) {
      idx[d] = rem % x.shape[d];
      rem = Math.floor(rem / x.shape[d]);
    }
    let o = 0;
    for (let d = 0; d < r; d++) o = o * keepShape[d] + (set.has(d) ? 0 : idx[d]);
    groups[o].push(x.data[f0]);
  }
  const shape = keepdim ? keepShape : x.shape.filter((_, i) => !set.has(i));
  return { data: Float64Array.from(groups.map(f)), shape };
}

const SUM = (v: number[]) => v.reduce((a, b) => a + b, 0);
const MEAN = (v: number[]) => SUM(v) / v.length;
const MAX = (v: number[]) => Math.max(...v);

describe('reduction gradients by finite differences (f64 CPU reference)', () => {
  const rng = seededUniform(17);
  const cases: { shape: number[]; axes: number[] | null; keepdim?: boolean }[] = [
    { shape: [7, 13], axes: [1] },
    { shape: [7, 13], axes: [0], keepdim: true },
    { shape: [3, 13, 7], axes: [0, 2] },
    { shape: [197, 3], axes: [0] }, // long non-last axis: a workgroup per output
    { shape: [2, 197], axes: [-1] },
    { shape: [13, 37], axes: null },
  ];
  for (const { shape, axes, keepdim = false } of cases) {
    const tag = `${shape.join('x')} axes ${axes === null ? 'all' : axes.join(',')}${keepdim ? ' keepdim' : ''}`;
    test(`sum, mean and amax at ${tag}`, async () => {
      const x = randomND(shape, rng);
      await gradcheck({ label: `sum ${tag}`, inputs: [x], gpu: ([t]) => T.sum(t, axes, keepdim), cpu: ([t]) => cpuReduce(t, axes, SUM, keepdim) });
      await gradcheck({ label: `mean ${tag}`, inputs: [x], gpu: ([t]) => T.mean(t, axes, keepdim), cpu: ([t]) => cpuReduce(t, axes, MEAN, keepdim) });
      await gradcheck({ label: `amax ${tag}`, inputs: [x], gpu: ([t]) => T.amax(t, axes, keepdim), cpu: ([t]) => cpuReduce(t, axes, MAX, keepdim) });
    });
  }
  for (const [shape, axis] of [
    [[7, 13], 1],
    [[37, 7], 0],
    [[3, 197], -1],
    [[197, 2], 0],
  ] as [number[], number][]) {
    test(`max values at ${shape.join('x')} axis ${axis}`, async () => {
      await gradcheck({
        label: 'max',
        inputs: [randomND(shape, rng)],
        gpu: ([t]) => {
          const r = T.max(t, axis);
          r.indices.dispose();
          return r.values;
        },
        cpu: ([t]) => cpuReduce(t, [axis], MAX),
      });
    });
  }
  test('strided inputs: permuted and sliced views, over non-last axes', async () => {
    const x = randomND([13, 7, 5], rng);
    const perm = [2, 0, 1];
    for (const axes of [[0], [1], [0, 2], null]) {
      await gradcheck({
        label: `sum of permute ${axes}`,
        inputs: [x],
        gpu: ([t]) => T.sum(T.permute(t, perm), axes),
        cpu: ([t]) => cpuReduce(cpuPermute(t, perm), axes, SUM),
      });
      await gradcheck({
        label: `amax of permute ${axes}`,
        inputs: [x],
        gpu: ([t]) => T.amax(T.permute(t, perm), axes),
        cpu: ([t]) => cpuReduce(cpuPermute(t, perm), axes, MAX),
      });
    }
    const y = randomND([9, 37], rng);
    await gradcheck({
      label: 'mean of a slice over axis 0',
      inputs: [y],
      gpu: ([t]) => T.mean(T.slice(t, [[1, 9, 3], [2, 37, 2]]), 0),
      cpu: ([t]) => {
        const rows = [1, 4, 7];
        const cols = Array.from({ length: 18 }, (_, k) => 2 + 2 * k);
        return { data: Float64Array.from(cols, (c) => MEAN(rows.map((r) => t.data[r * 37 + c]))), shape: [18] };
      },
    });
  });
});

describe('reductions: indices and large inputs', () => {
  test('argmax and argmin keep the first index of ties, along any axis and over all', async () => {
    const x = T.tensor([
      [3, 0, 3, 0],
      [2, 2, 0, 0],
    ]);
    expect(Array.from(await T.argmax(x, 1).data())).toEqual([0, 0]);
    expect(Array.from(await T.argmin(x, 1).data())).toEqual([1, 2]);
    expect(Array.from(await T.argmax(x, 0).data())).toEqual([0, 1, 0, 0]);
    expect(await T.argmax(x).item()).toBe(0);
    expect(await T.argmin(x).item()).toBe(1);
  });

  test('a long row with ties in a workgroup per output', async () => {
    const n = 1000;
    const v = Float32Array.from({ length: 2 * n }, (_, i) => (i % 97) - 50);
    const x = T.tensor(v, [2, n]);
    const { values, indices } = T.max(x, 1);
    expect(Array.from(await values.data())).toEqual([46, 46]);
    expect(Array.from(await indices.data())).toEqual([96, (97 - (n % 97) + 96) % 97]);
    expect(await T.argmin(x).item()).toBe(0);
  });

  test('sums over a million elements, all and per column', async () => {
    const rows = 1000;
    const cols = 1001;
    const rng = seededUniform(3);
    const v = Float32Array.from({ length: rows * cols }, () => Math.fround(rng()));
    const x = T.tensor(v, [rows, cols]);
    let total = 0;
    let best = 0;
    const colSums = new Float64Array(cols);
    for (let i = 0; i < v.length; i++) {
      total += v[i];
      if (v[i] > v[best]) best = i;
      colSums[i % cols] += v[i];
    }
    // Absolute error of an f32 sum of n values of size 1: about sqrt(n)·ulp, far below 1e-2.
    expect(Math.abs((await T.sum(x).item()) - total)).toBeLessThan(1e-2);
    const got = await T.sum(x, 0).data();
    for (let c = 0; c < cols; c++) expect(Math.abs(got[c] - colSums[c])).toBeLessThan(1e-3);
    expect(await T.argmax(x).item()).toBe(best);
    expect(await T.amax(x).item()).toBe(v[best]);
  });

  test('long reductions to few outputs split into chunks keep the first index of ties', async () => {
    const rows = 20001;
    const rng = seededUniform(4);
    const v = Float32Array.from({ length: rows * 3 }, () => Math.fround(rng()));
    for (const j of [0, 1, 2]) {
      v[(5000 + j) * 3 + j] = 2;
      v[(15000 + j) * 3 + j] = 2;
      v[(12000 + j) * 3 + j] = -2;
      v[(19000 + j) * 3 + j] = -2;
    }
    const x = T.tensor(v, [rows, 3]);
    const hi = T.max(x, 0);
    expect(Array.from(await hi.values.data())).toEqual([2, 2, 2]);
    expect(Array.from(await hi.indices.data())).toEqual([5000, 5001, 5002]);
    expect(Array.from(await T.argmin(x, 0).data())).toEqual([12000, 12001, 12002]);
    expect(await T.argmax(x).item()).toBe(5000 * 3);
    expect(await T.argmin(T.permute(x, [1, 0])).item()).toBe(12000);
    const sums = [0, 0, 0];
    for (let i = 0; i < v.length; i++) sums[i % 3] += v[i];
    const got = await T.sum(x, 0).data();
    for (const j of [0, 1, 2]) expect(Math.abs(got[j] - sums[j])).toBeLessThan(1e-2);
  });

  test('integer sums stay exact', async () => {
    const x = T.tensor(new Int32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
    expect(x.dtype).toBe('i32');
    expect(Array.from(await T.sum(x, 0).data())).toEqual([5, 7, 9]);
    expect(await T.sum(x).item()).toBe(21);
  });
});

describe('reduction input errors', () => {
  test('axes out of range or repeated name the op and the shape', () => {
    const x = T.zeros([3, 4]);
    expect(() => T.sum(x, 2)).toThrow(/sum: axes \[2\] out of range or repeated for rank 2.*\[3, 4\]/);
    expect(() => T.mean(x, [0, -2])).toThrow(/mean: axes \[0, -2\] out of range or repeated.*\[3, 4\]/);
    expect(() => T.max(x, -3)).toThrow(/max: .*out of range.*\[3, 4\]/);
    expect(() => T.argmax(x, 5)).toThrow(/argmax: .*out of range.*\[3, 4\]/);
    x.dispose();
  });
  test('max of an empty dimension', () => {
    const x = T.zeros([3, 0]);
    expect(() => T.amax(x, 1)).toThrow(/amax: cannot reduce over an empty dimension.*\[3, 0\]/);
    x.dispose();
  });
});
