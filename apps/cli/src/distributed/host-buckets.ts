// Tensors moved between the GPU and one host buffer in buckets: consecutive tensors flattened into one readback
// (one concat and one map instead of one per tensor) and written back the same way. The host side is f32 (MPI
// has no half type): f16 tensors (a mixed-precision student) widen on the way out and round on the way back.
import { cast, concat, copyInto, keep, noGrad, reshape, scope, slice, type Tensor, tensor } from '@seco/tensor';

const FLOATS = new Set(['f32', 'f16']);

/** Consecutive runs of `tensors` of at most `maxElements` elements each (a larger tensor is a bucket alone). */
export function buckets(tensors: readonly Tensor[], maxElements: number): Tensor[][] {
  const out: Tensor[][] = [];
  let cur: Tensor[] = [];
  let n = 0;
  for (const t of tensors) {
    if (!FLOATS.has(t.dtype)) throw new Error(`host buckets hold f32 and f16 tensors; got ${t.dtype} [${t.shape.join(', ')}]`);
    if (cur.length > 0 && n + t.size > maxElements) {
      out.push(cur);
      cur = [];
      n = 0;
    }
    cur.push(t);
    n += t.size;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

const asF32 = (t: Tensor) => (t.dtype === 'f32' ? t : cast(t, 'f32'));

/**
 * The tensors' values as f32, flattened and concatenated in order (one readback). The copy is encoded before
 * this returns, so the tensors may change or go as soon as the call is made.
 */
export async function readBucket(tensors: readonly Tensor[]): Promise<Float32Array> {
  const flat = keep(noGrad(() => scope(() => (tensors.length === 1 ? asF32(reshape(tensors[0], [-1])) : concat(tensors.map((t) => asF32(reshape(t, [-1]))), 0)))));
  try {
    return (await flat.data()) as Float32Array;
  } finally {
    if (flat !== tensors[0]) flat.dispose();
  }
}

/** Writes `values` (laid out as readBucket gives them) back into the tensors, in place. */
export function writeBucket(tensors: readonly Tensor[], values: Float32Array): void {
  const total = tensors.reduce((n, t) => n + t.size, 0);
  if (values.length < total) throw new Error(`writeBucket: ${values.length} values for ${total} elements`);
  noGrad(() =>
    scope(() => {
      const src = tensor(values.subarray(0, total), [total]);
      let o = 0;
      for (const t of tensors) {
        const part = reshape(slice(src, [[o, o + t.size]]), t.shape);
        copyInto(t, t.dtype === 'f32' ? part : cast(part, t.dtype));
        o += t.size;
      }
    }),
  );
}
