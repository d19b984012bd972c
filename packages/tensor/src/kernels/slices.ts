import { type Shape } from '../shape.ts';
import { allBindWhole, bindableBytes, spanBytes, type ViewLike } from './binding.ts';
import { TensorError } from '../errors.ts';
import { formatShape } from '../shape.ts';

/**
 * Splitting a kernel's index space so that every tensor it binds fits the device's binding limit. An
 * elementwise-style kernel (each output element reads its operands at the same index) runs once per slice, on
 * views narrowed to that slice; with every buffer under the limit there is one slice, the views themselves.
 */

/** A view narrowed to part of its index space. */
function narrowed(v: ViewLike, prefix: readonly number[], dim: number, start: number, len: number): ViewLike {
  let offset = v.offset;
  for (let i = 0; i < prefix.length; i++) offset += prefix[i] * v.strides[i];
  offset += start * v.strides[dim];
  return {
    buffer: v.buffer,
    dtype: v.dtype,
    shape: [len, ...v.shape.slice(dim + 1)],
    strides: [v.strides[dim], ...v.strides.slice(dim + 1)],
    offset,
  };
}

/**
 * Cuts the index space `shape`, shared by `views` (each of exactly that shape, broadcasts as stride 0), into
 * row-major runs whose every view spans at most the bindable bytes. Each slice lists the narrowed views in the
 * order given; a run is contiguous in row-major order, so a contiguous output view stays contiguous.
 */
export function sliceIndexSpace(op: string, shape: Shape, views: readonly ViewLike[]): ViewLike[][] {
  if (allBindWhole(views)) return [[...views]];
  const limit = bindableBytes();
  const fits = (vs: readonly ViewLike[]) => vs.every((v) => spanBytes(v) <= limit);
  if (shape.length === 0) {
    if (fits(views)) return [[...views]];
    throw new TensorError(op, 'a scalar view does not fit a binding');
  }
  const out: ViewLike[][] = [];
  const walk = (prefix: number[], dim: number, start: number, len: number) => {
    const vs = views.map((v) => narrowed(v, prefix, dim, start, len));
    if (fits(vs)) {
      out.push(vs);
      return;
    }
    if (len > 1) {
      // Halving keeps slices few and equal; a run of rows that fits is found in log2(rows) steps.
      const half = Math.ceil(len / 2);
      walk(prefix, dim, start, half);
      walk(prefix, dim, start + half, len - half);
      return;
    }
    if (dim + 1 >= shape.length) {
      throw new TensorError(op, `one element of ${formatShape(shape)} spans more than a binding; this cannot be sliced`);
    }
    walk([...prefix, start], dim + 1, 0, shape[dim + 1]);
  };
  walk([], 0, 0, shape[0]);
  return out;
}
