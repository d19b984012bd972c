// Weights holding NaN or Inf (the checkpoint of a diverged run) are refused where they are read: the host has
// the values already, so the check costs one pass over them and no GPU work. Without it, eval runs to the end
// and fails far from the cause (a prediction of class 255 in the confusion matrix).
import type { TensorRecord } from '@seco/tensor';

function describe(v: number): string {
  return Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
}

/** Row-major index of element `flat` of `shape`, e.g. [0, 17]. */
function indexOf(flat: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length).fill(0);
  for (let d = shape.length - 1; d >= 0 && shape[d] > 0; d--) {
    idx[d] = flat % shape[d];
    flat = Math.floor(flat / shape[d]);
  }
  return idx;
}

function firstNonFinite(d: ArrayLike<number>): number {
  for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i])) return i;
  return -1;
}

/**
 * Throws, naming `source`, the first floating-point tensor (in the order read) that holds NaN or ±Infinity,
 * the first such element and how many there are. Integer tensors cannot hold either and are skipped.
 */
export function assertFiniteWeights(tensors: TensorRecord, source: string): void {
  const floats = Object.entries(tensors).filter(([, t]) => t.data instanceof Float32Array || t.data instanceof Float64Array);
  const at = floats.findIndex(([, t]) => firstNonFinite(t.data) >= 0);
  if (at < 0) return;
  const [key, t] = floats[at];
  const first = firstNonFinite(t.data);
  let bad = 0;
  for (let i = first; i < t.data.length; i++) if (!Number.isFinite(t.data[i])) bad++;
  const later = floats.slice(at + 1).filter(([, o]) => firstNonFinite(o.data) >= 0).length;
  throw new Error(
    `${source}: weights are not finite: tensor ${key} [${t.shape.join(', ')}] holds ${describe(t.data[first])} at [${indexOf(first, t.shape).join(', ')}] ` +
      `(${bad} of ${t.data.length} elements not finite${later > 0 ? `; ${later} later tensor${later === 1 ? '' : 's'} too` : ''}); ` +
      'the run that saved them probably diverged: use an earlier checkpoint',
  );
}
