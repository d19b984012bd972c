import type { BufferWindow } from '../runtime/engine.ts';
import { type Shape } from '../shape.ts';
import { allBindWhole, bindableBytes, bindView, spanBytes, type ViewLike } from './binding.ts';
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

/** One slice of an index space: the narrowed views, and the row-major index of its first element. */
export interface IndexSlice {
  views: ViewLike[];
  first: number;
}

/**
 * Cuts the index space `shape`, shared by `views` (each of exactly that shape, broadcasts as stride 0), into
 * row-major runs whose every view spans at most the bindable bytes. Each slice lists the narrowed views in the
 * order given; a run is contiguous in row-major order, so a contiguous output view stays contiguous.
 */
export function sliceIndexSpace(op: string, shape: Shape, views: readonly ViewLike[]): ViewLike[][] {
  return indexSlices(op, shape, views).map((s) => s.views);
}

/**
 * sliceIndexSpace, with two more uses: a view may have dimensions after `shape`'s (a row a kernel reads whole,
 * or an output plane), which are never cut; and each slice says where in the index space it starts. A slice
 * keeps the dims after its cut whole, so its views have rank `rank - d` for a cut at dim d.
 */
export function indexSlices(op: string, shape: Shape, views: readonly ViewLike[]): IndexSlice[] {
  if (allBindWhole(views)) return [{ views: [...views], first: 0 }];
  const limit = bindableBytes();
  const fits = (vs: readonly ViewLike[]) => vs.every((v) => spanBytes(v) <= limit);
  const tooBig = () => new TensorError(op, `one element of ${formatShape(shape)} spans more than a binding (${limit} bytes); this cannot be sliced`);
  if (shape.length === 0) {
    if (fits(views)) return [{ views: [...views], first: 0 }];
    throw tooBig();
  }
  // Row-major element counts per index of each dim, for `first`.
  const inner = shape.map((_, d) => shape.slice(d + 1).reduce((a, b) => a * b, 1));
  const out: IndexSlice[] = [];
  const walk = (prefix: number[], dim: number, start: number, len: number) => {
    const vs = views.map((v) => narrowed(v, prefix, dim, start, len));
    if (fits(vs)) {
      out.push({ views: vs, first: prefix.reduce((a, p, i) => a + p * inner[i], start * inner[dim]) });
      return;
    }
    if (len > 1) {
      // Halving keeps slices few and equal; a run of rows that fits is found in log2(rows) steps.
      const half = Math.ceil(len / 2);
      walk(prefix, dim, start, half);
      walk(prefix, dim, start + half, len - half);
      return;
    }
    if (dim + 1 >= shape.length) throw tooBig();
    walk([...prefix, start], dim + 1, 0, shape[dim + 1]);
  };
  walk([], 0, 0, shape[0]);
  return out;
}

/** A sliced view given back its leading size-1 dims, for kernels written for one rank. */
export function padRank(v: ViewLike, rank: number): ViewLike {
  const lead = rank - v.shape.length;
  if (lead <= 0) return v;
  return { ...v, shape: [...new Array<number>(lead).fill(1), ...v.shape], strides: [...new Array<number>(lead).fill(0), ...v.strides] };
}

/** One run of a flat range: the binding of its part of the buffer, its element offset there, its first index. */
export interface FlatRun {
  resource: GPUBuffer | BufferWindow;
  offset: number;
  first: number;
  n: number;
}

/**
 * The elements [0, n) of a dense tensor (from its offset) in runs that each fit a binding, for kernels that
 * write (or update) every element by its flat index: one run, the buffer bound whole, when it fits.
 */
export function flatRuns(op: string, t: ViewLike, n: number): FlatRun[] {
  const flat: ViewLike = { buffer: t.buffer, dtype: t.dtype, offset: t.offset, shape: [n], strides: [1] };
  return indexSlices(op, [n], [flat]).map(({ views: [v], first }) => ({ ...bindView(v, op), first, n: v.shape[0] }));
}
