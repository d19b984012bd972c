// Golden fixtures from ../shared/fixtures (beside the repository), read in place.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type DType, Tensor, tensor } from '@seco/tensor';

export interface FixtureTensor {
  shape: number[];
  dtype: string;
  data: (number | null)[];
}

export interface FixtureCase {
  name: string;
  description?: string;
  inputs: Record<string, FixtureTensor>;
  params: Record<string, unknown>;
  outputs: Record<string, FixtureTensor>;
  grad_weight?: Record<string, FixtureTensor>;
  grads?: Record<string, FixtureTensor>;
  intermediates?: Record<string, FixtureTensor>;
  [k: string]: unknown;
}

export interface FixtureGroup {
  group: string;
  meta: Record<string, unknown>;
  cases: FixtureCase[];
}

export const fixturesDir = process.env.SECO_FIXTURES ?? fileURLToPath(new URL('../../../shared/fixtures/', import.meta.url));
export const sharedDataDir = process.env.SECO_SHARED_DATA ?? fileURLToPath(new URL('../../../shared/data/', import.meta.url));

const cache = new Map<string, unknown>();

export function loadJson<T = unknown>(rel: string): T {
  let v = cache.get(rel);
  if (!v) {
    v = JSON.parse(readFileSync(fixturesDir + rel, 'utf8'));
    cache.set(rel, v);
  }
  return v as T;
}

export function loadGroup(rel: string): FixtureGroup {
  return loadJson<FixtureGroup>(rel);
}

export function fixtureDtype(t: FixtureTensor): DType {
  if (t.dtype === 'float32' || t.dtype === 'float64') return 'f32';
  if (t.dtype === 'uint8') return 'u32';
  return 'i32';
}

export function toTensor(t: FixtureTensor, dtype?: DType): Tensor {
  return tensor(t.data.map((v) => (v === null ? NaN : v)), t.shape, dtype ?? fixtureDtype(t));
}

export interface Tolerance {
  rtol: number;
  atol: number;
}

export const TOL = {
  forward: { rtol: 1e-4, atol: 1e-5 },
  grad: { rtol: 1e-3, atol: 1e-4 },
  exact: { rtol: 0, atol: 0 },
} satisfies Record<string, Tolerance>;

/** |got - want| <= atol + rtol |want| elementwise; throws naming the worst element. */
export function expectClose(got: ArrayLike<number>, want: ArrayLike<number | null>, tol: Tolerance, label: string): void {
  if (got.length !== want.length) throw new Error(`${label}: ${got.length} values, expected ${want.length}`);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < got.length; i++) {
    const w = want[i];
    const g = got[i];
    if (w === null || Number.isNaN(w)) {
      if (!Number.isNaN(g)) {
        worst = i;
        worstExcess = Infinity;
      }
      continue;
    }
    const err = Math.abs(g - w);
    const bound = tol.atol + tol.rtol * Math.abs(w);
    if (!(err <= bound) && (err - bound > worstExcess || worst < 0)) {
      worst = i;
      worstExcess = Number.isNaN(err) ? Infinity : err - bound;
    }
  }
  if (worst >= 0) {
    throw new Error(
      `${label}: element ${worst} is ${got[worst]}, expected ${want[worst]} (rtol ${tol.rtol}, atol ${tol.atol}; ${countBad(got, want, tol)} of ${got.length} elements out of tolerance)`,
    );
  }
}

function countBad(got: ArrayLike<number>, want: ArrayLike<number | null>, tol: Tolerance): number {
  let n = 0;
  for (let i = 0; i < got.length; i++) {
    const w = want[i] ?? NaN;
    if (!(Math.abs(got[i] - w) <= tol.atol + tol.rtol * Math.abs(w))) n++;
  }
  return n;
}

/** Compares a tensor with a fixture tensor: shape, then values. */
export async function expectTensor(got: Tensor, want: FixtureTensor, tol: Tolerance, label: string): Promise<void> {
  if (got.shape.join(',') !== want.shape.join(',')) {
    throw new Error(`${label}: shape [${got.shape}] expected [${want.shape}]`);
  }
  expectClose(await got.data(), want.data, tol, label);
}

/** max |x| of a fixture tensor, for tolerances relative to a gradient's scale. */
export function maxAbs(t: FixtureTensor): number {
  let m = 0;
  for (const v of t.data) if (v !== null) m = Math.max(m, Math.abs(v));
  return m;
}

export interface CaseCheckOptions {
  forward?: Tolerance;
  grad?: Tolerance;
  /** Inputs that must not require grad (indices, labels). */
  constant?: string[];
}

/**
 * Runs one fixture case through `run`: outputs against `outputs`, and, when the case has grads, the gradient
 * of Σ sum(out * grad_weight) against `grads`. Tensors made here are freed before it returns.
 */
export async function checkCase(
  c: FixtureCase,
  run: (inputs: Record<string, Tensor>, params: Record<string, unknown>) => Record<string, Tensor>,
  options: CaseCheckOptions = {},
): Promise<void> {
  const { mul, sum, add } = await import('@seco/tensor');
  const inputs: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(c.inputs)) {
    const t = toTensor(v);
    if (c.grads?.[k] && t.dtype === 'f32' && !options.constant?.includes(k)) t.requiresGrad_();
    inputs[k] = t;
  }
  const outputs = run(inputs, c.params ?? {});
  const made: Tensor[] = [...Object.values(inputs), ...Object.values(outputs)];
  try {
    for (const [k, want] of Object.entries(c.outputs)) {
      const got = outputs[k];
      if (!got) throw new Error(`${c.name}: no output ${k}`);
      const exact = fixtureDtype(want) !== 'f32';
      await expectTensor(got, want, exact ? TOL.exact : (options.forward ?? TOL.forward), `${c.name} ${k}`);
    }
    if (c.grads && c.grad_weight) {
      let loss: Tensor | null = null;
      for (const [k, w] of Object.entries(c.grad_weight)) {
        const term = sum(mul(outputs[k], toTensor(w)));
        made.push(term);
        loss = loss ? add(loss, term) : term;
        made.push(loss);
      }
      loss!.backward();
      for (const [k, want] of Object.entries(c.grads)) {
        const t = inputs[k];
        if (!t?.grad) throw new Error(`${c.name}: input ${k} received no gradient`);
        made.push(t.grad);
        await expectTensor(t.grad, want, options.grad ?? TOL.grad, `${c.name} grad ${k}`);
      }
    }
  } finally {
    for (const t of made) t.dispose();
  }
}
