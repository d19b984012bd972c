import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import * as T from '../src/index.ts';
import { setReductionSubgroups } from '../src/kernels/subgroup-tree.ts';
import { cpuPermute, gradcheck, type ND, randomND, seededUniform } from '../../../test/support/gradcheck.ts';
import { underBothClasses } from './support/adapter-class.ts';
import { underTinyLimit } from './support/binding-limit.ts';

/**
 * The GPU-class reductions (columns split into chunks, trees split over the extent, subgroup trees) and row
 * kernels, forced on whatever adapter runs the tests, with subgroups on and off, against an f64 reference and
 * against the CPU-class kernels. Shapes are not multiples of any workgroup or chunk size.
 */
beforeAll(async () => {
  await T.init();
});

afterAll(() => {
  T.engine().setAdapterClass(null);
  setReductionSubgroups(true);
});

type Kind = 'sum' | 'max' | 'min';

/**
 * f64 reduction of a dense array over `axes` (all when null): per output the sum, or the extreme and the
 * row-major index of its first occurrence within the reduced extent.
 */
function reference(x: ND, axes: number[] | null, kind: Kind): { values: Float64Array; indices: Int32Array; shape: number[] } {
  const r = x.shape.length;
  const set = new Set(axes ?? x.shape.map((_, i) => i));
  const outShape = x.shape.filter((_, i) => !set.has(i));
  const nOut = outShape.reduce((a, b) => a * b, 1);
  const values = new Float64Array(nOut).fill(kind === 'sum' ? 0 : kind === 'max' ? -Infinity : Infinity);
  const indices = new Int32Array(nOut).fill(-1);
  const idx = new Array<number>(r).fill(0);
  for (let f = 0; f < x.data.length; f++) {
    let rem = f;
    for (let d = r - 1; d >= 0; d--) {
      idx[d] = rem % x.shape[d];
      rem = Math.floor(rem / x.shape[d]);
    }
    let o = 0;
    let k = 0;
    for (let d = 0; d < r; d++) {
      if (set.has(d)) k = k * x.shape[d] + idx[d];
      else o = o * x.shape[d] + idx[d];
    }
    const v = x.data[f];
    // Row-major order visits each output's reduced indices in increasing order: strict comparison keeps the first.
    if (kind === 'sum') values[o] += v;
    else if (kind === 'max' ? v > values[o] : v < values[o]) {
      values[o] = v;
      indices[o] = k;
    }
  }
  return { values, indices, shape: outShape };
}

/** Every non-empty set of axes of a rank, and null (all). */
function axisSets(rank: number): (number[] | null)[] {
  const sets: (number[] | null)[] = [null];
  for (let m = 1; m < 1 << rank; m++) sets.push([...Array(rank).keys()].filter((d) => m & (1 << d)));
  return sets;
}

function toTensor(x: ND): T.Tensor {
  return T.tensor(Float32Array.from(x.data), x.shape);
}

/** Quarter integers in [-3, 3]: every partial sum of up to 2^22 of them is exact in f32, whatever the order. */
function quarters(shape: number[], seed: number): ND {
  const draw = seededUniform(seed);
  return { data: Float64Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => Math.floor(draw(-12, 13)) / 4), shape };
}

/** Means: an exact sum divided once, so within an ulp or two of the f64 mean. */
function expectMeans(got: ArrayLike<number>, sums: Float64Array, n: number, label: string): void {
  expect(got.length, label).toBe(sums.length);
  for (let i = 0; i < sums.length; i++) {
    const want = sums[i] / n;
    if (!(Math.abs(got[i] - want) <= 3e-7 * Math.abs(want) + 1e-12)) throw new Error(`${label}: output ${i} is ${got[i]}, want ${want}`);
  }
}

const SHAPES = [
  [3140, 771],
  [7, 12544, 5],
  [1, 100003],
  [300, 197],
];

for (const subgroups of [true, false]) {
  describe(`GPU-class reductions, subgroups ${subgroups ? 'on' : 'off'}`, () => {
    beforeAll(() => {
      T.engine().setAdapterClass('gpu');
      setReductionSubgroups(subgroups);
    });
    afterAll(() => {
      T.engine().setAdapterClass(null);
      setReductionSubgroups(true);
    });

    for (const shape of SHAPES) {
      test(`sum and mean over every axis set of ${shape.join('x')}, keepdim too`, async () => {
        const x = quarters(shape, shape.length * 1000 + shape[1]);
        const t = toTensor(x);
        for (const axes of axisSets(shape.length)) {
          const tag = `${shape.join('x')} axes ${axes ?? 'all'}`;
          const want = reference(x, axes, 'sum');
          const s = T.sum(t, axes);
          expect(s.shape, tag).toEqual(want.shape);
          expect(Array.from(await s.data()), `sum ${tag}`).toEqual(Array.from(want.values));
          const n = axes === null ? x.data.length : axes.reduce((a, d) => a * shape[d], 1);
          const m = T.mean(t, axes, true);
          expect(m.shape, tag).toEqual(shape.map((d, i) => (axes === null || axes.includes(i) ? 1 : d)));
          expectMeans(await m.data(), want.values, n, `mean ${tag}`);
          s.dispose();
          m.dispose();
        }
        t.dispose();
      });

      test(`max, min, argmax and argmin with ties keep the first index along each axis of ${shape.join('x')}, and over all`, async () => {
        // Integers in [-3, 3]: every output sees many ties of its extreme.
        const draw = seededUniform(shape[0] + 7);
        const x: ND = { data: Float64Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => Math.floor(draw(-3, 4))), shape };
        const t = toTensor(x);
        for (const axis of [...shape.keys(), null]) {
          const tag = `${shape.join('x')} axis ${axis ?? 'all'}`;
          for (const kind of ['max', 'min'] as const) {
            const want = reference(x, axis === null ? null : [axis], kind);
            const r = (kind === 'max' ? T.max : T.min)(t, axis, axis === 1);
            expect(Array.from(await r.values.data()), `${kind} values ${tag}`).toEqual(Array.from(want.values));
            expect(Array.from(await r.indices.data()), `${kind} indices ${tag}`).toEqual(Array.from(want.indices));
            const a = (kind === 'max' ? T.argmax : T.argmin)(t, axis);
            expect(Array.from(await a.data()), `arg${kind} ${tag}`).toEqual(Array.from(want.indices));
            const am = (kind === 'max' ? T.amax : (v: T.Tensor, ax: number[] | null) => T.neg(T.amax(T.neg(v), ax)))(t, axis === null ? null : [axis]);
            expect(Array.from(await am.data(), (v) => v + 0), `amax-style ${kind} ${tag}`).toEqual(Array.from(want.values));
            [r.values, r.indices, a, am].forEach((v) => v.dispose());
          }
        }
        t.dispose();
      });
    }

    test('strided inputs: a transposed matrix and a permuted 3-d tensor, read in place', async () => {
      const x = quarters([3140, 771], 5);
      const xt = T.transpose(toTensor(x), 0, 1);
      const xtRef = cpuPermute(x, [1, 0]);
      for (const axes of axisSets(2)) {
        expect(Array.from(await T.sum(xt, axes).data()), `sum of the transpose over ${axes ?? 'all'}`).toEqual(Array.from(reference(xtRef, axes, 'sum').values));
      }
      for (const axis of [0, 1]) {
        const want = reference(xtRef, [axis], 'max');
        expect(Array.from(await T.argmax(xt, axis).data()), `argmax of the transpose along ${axis}`).toEqual(Array.from(want.indices));
      }
      const y = quarters([7, 12544, 5], 6);
      const p = T.permute(toTensor(y), [2, 0, 1]);
      const pRef = cpuPermute(y, [2, 0, 1]);
      for (const axes of [[0], [1], [2], [0, 2], [1, 2]]) {
        expect(Array.from(await T.sum(p, axes).data()), `sum of the permute over ${axes}`).toEqual(Array.from(reference(pRef, axes, 'sum').values));
        const want = reference(pRef, [axes[0]], 'min');
        expect(Array.from(await T.argmin(p, axes[0]).data()), `argmin of the permute along ${axes[0]}`).toEqual(Array.from(want.indices));
      }
    });
  });
}

describe('the GPU-class layouts really run', () => {
  afterAll(() => {
    T.engine().setAdapterClass(null);
    setReductionSubgroups(true);
  });

  /** The number of dispatches of one call. */
  async function dispatchCount(run: () => T.Tensor): Promise<number> {
    const d0 = T.engine().stats().dispatches;
    const out = run();
    const d = T.engine().stats().dispatches - d0;
    await out.data();
    out.dispose();
    return d;
  }

  /** The labels of the dispatches of `run` whose WGSL uses subgroup operations. */
  function subgroupLabels(run: () => void): string[] {
    const e = T.engine();
    const labels = new Set<string>();
    const dispatch = e.dispatch;
    e.dispatch = (d) => {
      const code = typeof d.code === 'string' ? d.code : d.code();
      if (/subgroup(Add|Max|Min)\(/.test(code)) labels.add(d.label);
      dispatch.call(e, d);
    };
    try {
      run();
    } finally {
      e.dispatch = dispatch;
    }
    return [...labels].sort();
  }

  test('a bias-gradient-like column sum: one thread per output on CPU adapters, chunks and a second pass on GPUs', async () => {
    const t = toTensor(quarters([3140, 771], 8));
    const e = T.engine();
    e.setAdapterClass('cpu');
    expect(await dispatchCount(() => T.sum(t, 0))).toBe(1);
    e.setAdapterClass('gpu');
    expect(await dispatchCount(() => T.sum(t, 0))).toBe(2);
    // One output over a long row: a tree per chunk, then the partials.
    expect(await dispatchCount(() => T.sum(t))).toBe(2);
    e.setAdapterClass(null);
    t.dispose();
  });

  test('workgroup trees use subgroup operations under the GPU class only, and only when allowed', () => {
    const e = T.engine();
    const t = toTensor(quarters([300, 197], 9));
    const run = () => {
      T.sum(t, 1).dispose();
      T.argmax(t, 1).dispose();
      T.softmax(t, 1).dispose();
    };
    e.setAdapterClass('cpu');
    expect(subgroupLabels(run)).toEqual([]);
    e.setAdapterClass('gpu');
    setReductionSubgroups(false);
    expect(subgroupLabels(run)).toEqual([]);
    setReductionSubgroups(true);
    expect(subgroupLabels(run)).toEqual(e.hasFeature('subgroups') ? ['argmax', 'softmax', 'sum'] : []);
    t.dispose();
  });
});

/** f64 softmax / log-softmax along `dim` of a dense array. */
function cpuSoftmax(x: ND, dim: number, log: boolean): ND {
  const d = dim < 0 ? dim + x.shape.length : dim;
  const n = x.shape[d];
  const inner = x.shape.slice(d + 1).reduce((a, b) => a * b, 1);
  const outer = x.shape.slice(0, d).reduce((a, b) => a * b, 1);
  const out = new Float64Array(x.data.length);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const at = (k: number) => o * n * inner + k * inner + i;
      let m = -Infinity;
      for (let k = 0; k < n; k++) m = Math.max(m, x.data[at(k)]);
      let s = 0;
      for (let k = 0; k < n; k++) s += Math.exp(x.data[at(k)] - m);
      for (let k = 0; k < n; k++) out[at(k)] = log ? x.data[at(k)] - m - Math.log(s) : Math.exp(x.data[at(k)] - m) / s;
    }
  }
  return { data: out, shape: [...x.shape] };
}

/** f64 layer norm over the last dim, with weight and bias. */
function cpuLayerNorm(x: ND, w: ND, b: ND, eps: number): ND {
  const n = x.shape.at(-1)!;
  const out = new Float64Array(x.data.length);
  for (let r = 0; r < x.data.length / n; r++) {
    const row = x.data.subarray(r * n, (r + 1) * n);
    const mu = row.reduce((a, v) => a + v, 0) / n;
    const v = row.reduce((a, t) => a + (t - mu) ** 2, 0) / n;
    const rs = 1 / Math.sqrt(v + eps);
    for (let j = 0; j < n; j++) out[r * n + j] = (row[j] - mu) * rs * w.data[j] + b.data[j];
  }
  return { data: out, shape: [...x.shape] };
}

/** f64 mean cross entropy of [N, C] logits against class indices. */
function cpuCrossEntropy(x: ND, target: number[]): ND {
  const [N, C] = x.shape;
  let total = 0;
  for (let i = 0; i < N; i++) {
    const row = x.data.subarray(i * C, (i + 1) * C);
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0));
    total += lse - row[target[i]];
  }
  return { data: Float64Array.of(total / N), shape: [] };
}

for (const subgroups of [true, false]) {
  describe(`GPU-class row kernels, subgroups ${subgroups ? 'on' : 'off'}: values and gradients by finite differences`, () => {
    beforeAll(() => {
      T.engine().setAdapterClass('gpu');
      setReductionSubgroups(subgroups);
    });
    afterAll(() => {
      T.engine().setAdapterClass(null);
      setReductionSubgroups(true);
    });
    const rng = seededUniform(subgroups ? 41 : 43);

    for (const [shape, dim] of [
      [[3, 197], 1],
      [[197, 3], 0],
      [[2, 131, 3], 1],
    ] as [number[], number][]) {
      for (const log of [false, true]) {
        test(`${log ? 'log_softmax' : 'softmax'} of ${shape.join('x')} along ${dim}`, async () => {
          await gradcheck({
            label: `${log ? 'log_softmax' : 'softmax'} ${shape.join('x')}`,
            inputs: [randomND(shape, rng, -3, 3)],
            gpu: ([t]) => (log ? T.logSoftmax(t, dim) : T.softmax(t, dim)),
            cpu: ([t]) => cpuSoftmax(t, dim, log),
          });
        });
      }
    }

    test('layer norm with weight and bias over rows of 301, forward and backward', async () => {
      await gradcheck({
        label: 'layer_norm 3x301',
        inputs: [randomND([3, 301], rng, -2, 2), randomND([301], rng, 0.5, 1.5), randomND([301], rng)],
        gpu: ([x, w, b]) => T.layerNorm(x, 301, w, b, 1e-5),
        cpu: ([x, w, b]) => cpuLayerNorm(x, w, b, 1e-5),
      });
    });

    test('cross entropy over 150 classes, mean', async () => {
      const tgt = [3, 149, 0, 77];
      await gradcheck({
        label: 'cross_entropy 4x150',
        inputs: [randomND([4, 150], rng, -3, 3)],
        gpu: ([x]) => T.crossEntropy(x, T.tensor(Int32Array.from(tgt), [4])),
        cpu: ([x]) => cpuCrossEntropy(x, tgt),
      });
    });
  });
}

describe('GPU-class kernels agree with the CPU-class ones', () => {
  afterAll(() => setReductionSubgroups(true));
  for (const subgroups of [true, false]) {
    test(`reductions, softmax, layer norm and its gradients, subgroups ${subgroups ? 'on' : 'off'}`, async () => {
      setReductionSubgroups(subgroups);
      const draw = seededUniform(10);
      const data = (n: number) => Float32Array.from({ length: n }, () => draw(-2, 2));
      const x = T.tensor(data(3140 * 771), [3140, 771]);
      const r = T.tensor(data(300 * 197), [300, 197]);
      const w = T.tensor(data(197), [197]);
      const ties = T.round(x);
      const { cpu, gpu } = await underBothClasses(() => {
        const leaf = T.contiguous(r).requiresGrad_();
        const wl = T.contiguous(w).requiresGrad_();
        const y = T.layerNorm(leaf, 197, wl, null);
        T.scope(() => T.sum(T.mul(y, T.softmax(r, 0))).backward());
        const out = [
          T.sum(x, 0),
          T.mean(x, 1),
          T.sum(x),
          T.amax(T.transpose(x, 0, 1), 1),
          T.cast(T.argmax(ties, 0), 'f32'),
          T.cast(T.argmin(ties), 'f32'),
          T.softmax(r, 1),
          T.logSoftmax(r, 0),
          T.detach(y),
          leaf.grad!,
          wl.grad!,
        ];
        leaf.grad = null;
        wl.grad = null;
        return out;
      });
      gpu.forEach((g, i) => {
        const c = cpu[i];
        expect(g.length, `output ${i}`).toBe(c.length);
        let worst = 0;
        for (let j = 0; j < c.length; j++) worst = Math.max(worst, Math.abs(g[j] - c[j]) / (1 + Math.abs(c[j])));
        // Index outputs (4, 5) are exact; sums differ by their summation order only.
        expect(worst, `output ${i}`).toBeLessThan(i === 4 || i === 5 ? 1e-12 : 2e-4);
      });
    });
  }
});

describe('GPU-class reductions over the binding limit', () => {
  afterAll(() => {
    T.engine().setBindingLimit(null);
    T.engine().setAdapterClass(null);
    setReductionSubgroups(true);
  });
  for (const subgroups of [true, false]) {
    test(`column chunks in runs of whole outputs, and outputs reduced in parts, subgroups ${subgroups ? 'on' : 'off'}`, async () => {
      T.engine().setAdapterClass('gpu');
      setReductionSubgroups(subgroups);
      // [5, 66, 14] over axis 1: 70 contiguous outputs in columns of 66; one leading index (924 elements) fits 4 KiB.
      const a = toTensor(quarters([5, 66, 14], 12));
      // [300, 41] over axis 0: one output's column spans more than 4 KiB, so it is reduced in parts.
      const b = toTensor(quarters([300, 41], 13));
      const { full, sliced } = await underTinyLimit(() => [
        T.sum(a, 1),
        T.amax(a, [0, 1]),
        T.cast(T.argmax(a, 1), 'f32'),
        T.sum(b, 0),
        T.cast(T.argmin(b, 0), 'f32'),
        T.mean(b, 1),
      ]);
      // Quarter integers sum exactly in any order: the sliced runs agree to the bit.
      expect(sliced).toEqual(full);
      const want = reference(quarters([5, 66, 14], 12), [1], 'sum').values;
      expect(Array.from(full[0])).toEqual(Array.from(want));
      expect(Array.from(full[2])).toEqual(Array.from(reference(quarters([5, 66, 14], 12), [1], 'max').indices));
      expect(Array.from(full[4])).toEqual(Array.from(reference(quarters([300, 41], 13), [0], 'min').indices));
      a.dispose();
      b.dispose();
    });
  }
});
