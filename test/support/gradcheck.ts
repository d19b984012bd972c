// Finite-difference gradient checks against an f64 CPU reference of each op.
import { expect } from 'vitest';
import { mul, scope, sum, type Tensor, tensor } from '@seco/tensor';
import { expectClose, type Tolerance } from './fixtures.ts';

/** A dense f64 array with a shape: the CPU reference's only type. */
export interface ND {
  data: Float64Array;
  shape: number[];
}

export const nd = (data: ArrayLike<number>, shape: number[]): ND => ({ data: Float64Array.from(data), shape });

/** Deterministic uniform numbers in [lo, hi) (mulberry32), so a failing check repeats exactly. */
export function seededUniform(seed: number): (lo?: number, hi?: number) => number {
  let s = seed >>> 0;
  return (lo = -1, hi = 1) => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    return lo + (hi - lo) * u;
  };
}

export function randomND(shape: number[], rng: (lo?: number, hi?: number) => number, lo = -1, hi = 1): ND {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float64Array(n);
  for (let i = 0; i < n; i++) data[i] = Math.fround(rng(lo, hi));
  return { data, shape };
}

export interface GradCheckSpec {
  /** Inputs (their values are rounded to f32, so GPU and CPU see the same numbers). */
  inputs: ND[];
  /** Which inputs to differentiate (default: all). */
  wrt?: number[];
  gpu: (xs: Tensor[]) => Tensor;
  cpu: (xs: ND[]) => ND;
  forwardTol?: Tolerance;
  gradTol?: Tolerance;
  eps?: number;
  seed?: number;
  label: string;
}

/**
 * Checks the GPU forward against the CPU reference, and the GPU gradient of sum(out * w) (w fixed random)
 * against central differences of the CPU reference in f64.
 */
export async function gradcheck(spec: GradCheckSpec): Promise<void> {
  const rng = seededUniform(spec.seed ?? 7);
  const wrt = spec.wrt ?? spec.inputs.map((_, i) => i);
  const ref = spec.cpu(spec.inputs);
  const w = randomND(ref.shape, rng);
  const lossOf = (xs: ND[]) => {
    const o = spec.cpu(xs);
    let s = 0;
    for (let i = 0; i < o.data.length; i++) s += o.data[i] * w.data[i];
    return s;
  };
  const eps = spec.eps ?? 1e-6;
  const numeric = wrt.map((k) => {
    const x = spec.inputs[k];
    const g = new Float64Array(x.data.length);
    for (let i = 0; i < x.data.length; i++) {
      const orig = x.data[i];
      x.data[i] = orig + eps;
      const lp = lossOf(spec.inputs);
      x.data[i] = orig - eps;
      const lm = lossOf(spec.inputs);
      x.data[i] = orig;
      g[i] = (lp - lm) / (2 * eps);
    }
    return g;
  });
  const ts = spec.inputs.map((x, i) => {
    const t = tensor(Float32Array.from(x.data), x.shape);
    return wrt.includes(i) ? t.requiresGrad_() : t;
  });
  const out = spec.gpu(ts);
  try {
    expect(out.shape).toEqual(ref.shape);
    expectClose(await out.data(), ref.data, spec.forwardTol ?? { rtol: 1e-4, atol: 1e-5 }, `${spec.label} forward`);
    scope(() => {
      const wt = tensor(Float32Array.from(w.data), w.shape);
      sum(mul(out, wt)).backward();
    });
    for (let j = 0; j < wrt.length; j++) {
      const t = ts[wrt[j]];
      if (!t.grad) throw new Error(`${spec.label}: input ${wrt[j]} received no gradient`);
      expect(t.grad.shape).toEqual(spec.inputs[wrt[j]].shape);
      const scale = Math.max(1e-3, ...Array.from(numeric[j], Math.abs));
      const tol = spec.gradTol ?? { rtol: 1e-2, atol: 1e-3 * scale };
      expectClose(await t.grad.data(), numeric[j], tol, `${spec.label} grad of input ${wrt[j]}`);
    }
  } finally {
    out.dispose();
    for (const t of ts) {
      t.grad?.dispose();
      t.dispose();
    }
  }
}

/** Broadcast-aware elementwise map on the CPU reference. */
export function cpuMap(xs: ND[], f: (...v: number[]) => number): ND {
  const rank = Math.max(...xs.map((x) => x.shape.length));
  const shape = new Array<number>(rank).fill(1);
  for (const x of xs) x.shape.forEach((d, i) => {
    const j = rank - x.shape.length + i;
    if (d !== 1) shape[j] = d;
  });
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float64Array(n);
  const idx = new Array<number>(rank).fill(0);
  const strides = xs.map((x) => {
    const s = new Array<number>(rank).fill(0);
    let acc = 1;
    for (let i = x.shape.length - 1; i >= 0; i--) {
      s[rank - x.shape.length + i] = x.shape[i] === 1 ? 0 : acc;
      acc *= x.shape[i];
    }
    return s;
  });
  const vals = new Array<number>(xs.length);
  for (let i = 0; i < n; i++) {
    let r = i;
    for (let d = rank - 1; d >= 0; d--) {
      idx[d] = r % shape[d];
      r = Math.floor(r / shape[d]);
    }
    for (let k = 0; k < xs.length; k++) {
      let o = 0;
      for (let d = 0; d < rank; d++) o += idx[d] * strides[k][d];
      vals[k] = xs[k].data[o];
    }
    out[i] = f(...vals);
  }
  return { data: out, shape };
}

/** Dense copy of x viewed through the axis permutation `perm` (the CPU twin of permute + contiguous). */
export function cpuPermute(x: ND, perm: number[]): ND {
  const shape = perm.map((p) => x.shape[p]);
  const inStrides = x.shape.map((_, i) => x.shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const out = new Float64Array(x.data.length);
  const idx = new Array<number>(shape.length).fill(0);
  for (let f = 0; f < out.length; f++) {
    let r = f;
    for (let k = shape.length - 1; k >= 0; k--) {
      idx[k] = r % shape[k];
      r = Math.floor(r / shape[k]);
    }
    out[f] = x.data[idx.reduce((acc, v, k) => acc + v * inStrides[perm[k]], 0)];
  }
  return { data: out, shape };
}
