// Tensors moved between the GPU and one host buffer in buckets: consecutive tensors flattened into one readback
// (one concat and one map instead of one per tensor) and written back the same way.
import { concat, copyInto, noGrad, reshape, scope, slice, type Tensor, tensor } from '@seco/tensor';

/** Consecutive runs of `tensors` of at most `maxElements` elements each (a larger tensor is a bucket alone). */
export function buckets(tensors: readonly Tensor[], maxElements: number): Tensor[][] {
  const out: Tensor[][] = [];
  let cur: Tensor[] = [];
  let n = 0;
  for (const t of tensors) {
    if (t.dtype !== 'f32') throw new Error(`host buckets hold f32 tensors; got ${t.dtype} [${t.shape.join(', ')}]`);
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

/** The tensors' values, flattened and concatenated in order (one readback). */
export async function readBucket(tensors: readonly Tensor[]): Promise<Float32Array> {
  const flat = noGrad(() => scope(() => (tensors.length === 1 ? reshape(tensors[0], [-1]) : concat(tensors.map((t) => reshape(t, [-1])), 0))));
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
        copyInto(t, reshape(slice(src, [[o, o + t.size]]), t.shape));
        o += t.size;
      }
    }),
  );
}
