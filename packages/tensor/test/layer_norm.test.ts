import { beforeAll, describe, expect, test } from 'vitest';
import * as T from '../src/index.ts';
import { checkCase, loadGroup, TOL } from '../../../test/support/fixtures.ts';
import { gradcheck, type ND, randomND, seededUniform } from '../../../test/support/gradcheck.ts';

beforeAll(async () => {
  await T.init();
});

const group = loadGroup('ops/layer_norm.json');

describe('layer_norm against PyTorch fixtures', () => {
  for (const c of group.cases) {
    test(c.name, async () => {
      // Inputs near 50 keep fewer significant digits in f32 (fixtures README §2).
      const forward = c.name === 'layer_norm_large_mean' ? { ...TOL.forward, atol: 5e-5 } : TOL.forward;
      await checkCase(
        c,
        (inp, p) => ({
          out: T.layerNorm(inp.x, p.normalized_shape as number[], inp.weight, inp.bias, p.eps as number),
        }),
        { forward },
      );
    });
  }
});

/** f64 layer norm of the last `k` dims of a dense x; w and b (optional) have the normalized shape. */
function cpuLayerNorm(x: ND, k: number, w: ND | null, b: ND | null, eps: number): ND {
  const n = x.shape.slice(x.shape.length - k).reduce((a, c) => a * c, 1);
  const out = new Float64Array(x.data.length);
  for (let r = 0; r < x.data.length / n; r++) {
    const row = x.data.subarray(r * n, (r + 1) * n);
    const mu = row.reduce((a, v) => a + v, 0) / n;
    const v = row.reduce((a, t) => a + (t - mu) ** 2, 0) / n;
    const rs = 1 / Math.sqrt(v + eps);
    for (let j = 0; j < n; j++) out[r * n + j] = (row[j] - mu) * rs * (w ? w.data[j] : 1) + (b ? b.data[j] : 0);
  }
  return { data: out, shape: [...x.shape] };
}

describe('layer_norm gradients by finite differences (f64 CPU reference)', () => {
  const rng = seededUniform(31);
  for (const [rows, n] of [
    [7, 13],
    [13, 37],
    [3, 197], // a workgroup per row
    [37, 7],
    [64, 67], // long rows, many of them: the other mode on each kind of adapter
  ]) {
    test(`x, weight and bias at ${rows}x${n}`, async () => {
      await gradcheck({
        label: `layer_norm ${rows}x${n}`,
        inputs: [randomND([rows, n], rng, -2, 2), randomND([n], rng, 0.5, 1.5), randomND([n], rng)],
        gpu: ([x, w, b]) => T.layerNorm(x, n, w, b, 1e-5),
        cpu: ([x, w, b]) => cpuLayerNorm(x, 1, w, b, 1e-5),
      });
    });
  }

  test('without weight and bias, rank 3, eps 1e-6', async () => {
    await gradcheck({
      label: 'layer_norm plain',
      inputs: [randomND([2, 3, 37], rng, -3, 3)],
      gpu: ([x]) => T.layerNorm(x, [37], null, null, 1e-6),
      cpu: ([x]) => cpuLayerNorm(x, 1, null, null, 1e-6),
    });
  });

  test('weight only, and bias only', async () => {
    const x = randomND([5, 13], rng, -2, 2);
    const p = randomND([13], rng, 0.5, 1.5);
    await gradcheck({
      label: 'layer_norm weight only',
      inputs: [x, p],
      gpu: ([t, w]) => T.layerNorm(t, 13, w),
      cpu: ([t, w]) => cpuLayerNorm(t, 1, w, null, 1e-5),
    });
    await gradcheck({
      label: 'layer_norm bias only',
      inputs: [x, p],
      gpu: ([t, b]) => T.layerNorm(t, 13, null, b),
      cpu: ([t, b]) => cpuLayerNorm(t, 1, null, b, 1e-5),
    });
  });

  test('over the last two dims', async () => {
    await gradcheck({
      label: 'layer_norm 2 dims',
      inputs: [randomND([3, 5, 7], rng, -2, 2), randomND([5, 7], rng, 0.5, 1.5), randomND([5, 7], rng)],
      gpu: ([x, w, b]) => T.layerNorm(x, [5, 7], w, b),
      cpu: ([x, w, b]) => cpuLayerNorm(x, 2, w, b, 1e-5),
    });
  });

  test('a transposed input is read in place', async () => {
    // layerNorm(xᵀ) over rows of xᵀ, i.e. columns of x: a row stride of 13.
    await gradcheck({
      label: 'layer_norm transposed',
      inputs: [randomND([37, 13], rng, -2, 2), randomND([37], rng, 0.5, 1.5), randomND([37], rng)],
      gpu: ([x, w, b]) => T.layerNorm(T.transpose(x), 37, w, b),
      cpu: ([x, w, b]) => {
        const t = new Float64Array(x.data.length);
        for (let i = 0; i < 37; i++) for (let j = 0; j < 13; j++) t[j * 37 + i] = x.data[i * 13 + j];
        return cpuLayerNorm({ data: t, shape: [13, 37] }, 1, w, b, 1e-5);
      },
    });
  });

  test('many rows: the weight gradients sum several row chunks', async () => {
    await gradcheck({
      label: 'layer_norm 1100 rows',
      inputs: [randomND([1100, 7], rng, -2, 2), randomND([7], rng, 0.5, 1.5), randomND([7], rng)],
      wrt: [1, 2],
      gpu: ([x, w, b]) => T.layerNorm(x, 7, w, b),
      cpu: ([x, w, b]) => cpuLayerNorm(x, 1, w, b, 1e-5),
    });
  });

  test('large mean, small spread: two-pass statistics', async () => {
    const x = randomND([9, 197], rng, 49, 51);
    const y = T.layerNorm(T.tensor(Float32Array.from(x.data), x.shape), 197);
    const ref = cpuLayerNorm(x, 1, null, null, 1e-5);
    const got = await y.data();
    let worst = 0;
    for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - ref.data[i]));
    // E[x²] − E[x]² in f32 would be off by ~1e-1 here.
    expect(worst).toBeLessThan(5e-5);
  });
});

describe('layer_norm under createGraph', () => {
  test('second-order gradient matches finite differences of the first-order one', async () => {
    const rng = seededUniform(9);
    const shape = [4, 11];
    const n = 11;
    const gw = randomND(shape, rng);
    const w = randomND([n], rng, 0.5, 1.5);
    // d/dx Σ LN(x)·gw in f64, the analytic rule.
    const cpuGrad = (x: ND): ND => {
      const out = new Float64Array(x.data.length);
      for (let r = 0; r < shape[0]; r++) {
        const row = x.data.subarray(r * n, (r + 1) * n);
        const mu = row.reduce((a, v) => a + v, 0) / n;
        const rs = 1 / Math.sqrt(row.reduce((a, t) => a + (t - mu) ** 2, 0) / n + 1e-5);
        const xh = Array.from(row, (v) => (v - mu) * rs);
        const gh = xh.map((_, j) => gw.data[r * n + j] * w.data[j]);
        const c1 = gh.reduce((a, v) => a + v, 0) / n;
        const c2 = gh.reduce((a, v, j) => a + v * xh[j], 0) / n;
        for (let j = 0; j < n; j++) out[r * n + j] = rs * (gh[j] - c1 - xh[j] * c2);
      }
      return { data: out, shape };
    };
    await gradcheck({
      label: 'layer_norm double backward',
      inputs: [randomND(shape, rng, -2, 2)],
      gpu: ([x]) => {
        const wt = T.tensor(Float32Array.from(gw.data), shape);
        const weight = T.tensor(Float32Array.from(w.data), [n]).requiresGrad_();
        T.sum(T.mul(T.layerNorm(x, n, weight), wt)).backward(undefined, { createGraph: true, retainGraph: true });
        const g = x.grad!;
        x.grad = null;
        return g;
      },
      cpu: ([x]) => cpuGrad(x),
    });
  });
});

describe('layer_norm input errors', () => {
  test('a normalized shape that is not the trailing shape', () => {
    const x = T.zeros([2, 3, 4]);
    expect(() => T.layerNorm(x, 3)).toThrow(/layer_norm: normalized shape \[3\] is not the trailing shape.*\[2, 3, 4\]/);
    expect(() => T.layerNorm(x, [2, 3, 4, 5])).toThrow(/layer_norm:.*\[2, 3, 4\]/);
    x.dispose();
  });
  test('weight of the wrong shape, integer input', () => {
    const x = T.zeros([2, 4]);
    const w = T.ones([5]);
    expect(() => T.layerNorm(x, 4, w)).toThrow(/layer_norm: weight must have the normalized shape \[4\].*\[2, 4\], \[5\]/);
    const xi = T.zeros([2, 4], 'i32');
    expect(() => T.layerNorm(xi, 4)).toThrow(/layer_norm: needs an f32 or f16 tensor, got i32.*\[2, 4\]/);
    for (const t of [x, w, xi]) t.dispose();
  });
  test('method sugar', async () => {
    const x = T.tensor([[1, 2, 3, 4]]);
    const a = await x.layerNorm(4).data();
    const b = await T.layerNorm(x, [4]).data();
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(a[0]).toBeCloseTo(-1.5 / Math.sqrt(1.25 + 1e-5), 5);
  });
});
