import { bytesPerElement, type DType } from '../dtype.ts';
import { TensorError } from '../errors.ts';
import { bindableBytes, spanBytes } from '../kernels/binding.ts';
import { scope } from '../memory.ts';
import { engine } from '../runtime/engine.ts';
import { contiguousStrides, formatShape, numel, type Shape } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { add } from './elementwise.ts';
import { concat, split } from './shape.ts';
import { joinRuns } from './slicing.ts';
import { bufferBytes } from '../runtime/buffer-bytes.ts';

/**
 * Slicing for ops with several independent axes (matmul: batch, rows, columns, the reduction; conv: images,
 * output and input channels; attention: batch and heads). When a tensor the op binds is larger than a binding,
 * the op runs on runs of the axis that dominates that tensor's extent in memory, calling itself on narrowed
 * views (so autograd slices the backward too), and the parts are concatenated along the output's dimension of
 * that axis, or summed where the axis is reduced. Each part slices again if it still does not fit.
 */

/** A tensor the op reads, and its dimension along each axis (-1 where the axis does not run through it). */
export interface AxisInput {
  t: Tensor;
  dims: readonly number[];
}

/** A tensor the op (or its backward) makes, by shape: contiguous, bound whole. */
export interface AxisOutput {
  shape: Shape;
  dtype: DType;
  dims: readonly number[];
}

export interface AxisPlan {
  op: string;
  /** Size of each axis; lower axes are sliced first when several would help. */
  sizes: readonly number[];
  /** The op's tensor operands (null for an absent optional one), narrowed per part. */
  inputs: readonly (AxisInput | null)[];
  /** The result: parts join along `out.dims[axis]`, or are summed where that is -1 (a reduced axis). */
  out: AxisOutput;
  /** Other tensors the op or its backward makes, which must fit a binding too. */
  temps?: readonly AxisOutput[];
  /** The op itself on narrowed inputs (in the order of `inputs`); `start` is the part's first index along `axis`. */
  part(inputs: (Tensor | null)[], axis: number, start: number): Tensor;
}

/** The cheap test an op makes first: every input buffer and every output binds whole, so nothing slices. */
export function bindsWhole(inputs: readonly (Tensor | null | undefined)[], ...outBytes: number[]): boolean {
  const limit = engine().maxBindingBytes;
  for (const t of inputs) if (t && bufferBytes(t.buffer) > limit) return false;
  for (const b of outBytes) if (b > limit) return false;
  return true;
}

export const bytesOf = (shape: Shape, dtype: DType) => numel(shape) * bytesPerElement(dtype);

interface Extent {
  shape: Shape;
  strides: Shape;
  dtype: DType;
  dims: readonly number[];
  /** Bytes it binds: a view's span, an output's size. */
  bytes: number;
  /** The most it may bind: less a window's alignment slack (an output's gradient comes back as a window). */
  cap: number;
  /** Made by the op (contiguous, each part its own): a part binds its share of the bytes. */
  fresh: boolean;
}

function extents(p: AxisPlan): Extent[] {
  const list: Extent[] = [];
  const limit = engine().maxBindingBytes;
  const cap = bindableBytes();
  for (const i of p.inputs) {
    // A buffer that binds whole needs nothing; a bigger one binds the span of the view.
    if (i && bufferBytes(i.t.buffer) > limit) {
      list.push({ shape: i.t.shape, strides: i.t.strides, dtype: i.t.dtype, dims: i.dims, bytes: spanBytes(i.t), cap, fresh: false });
    }
  }
  // Outputs are bound whole, but the backward reads their gradients as parts of the joined gradient: windows.
  for (const o of [p.out, ...(p.temps ?? [])]) list.push({ ...o, strides: contiguousStrides(o.shape), bytes: bytesOf(o.shape, o.dtype), cap, fresh: true });
  return list;
}

/** Elements one index of `axis` adds to the extent (0 where the axis does not run through it). */
function step(e: Extent, axis: number): number {
  const d = e.dims[axis];
  return d < 0 || e.shape[d] < 2 ? 0 : Math.abs(e.strides[d]);
}

/** The axis that spans the most of a tensor's memory (narrowing it shrinks the binding fastest); -1 if none. */
function dominantAxis(e: Extent, sizes: readonly number[]): number {
  let best = -1;
  let most = 0;
  sizes.forEach((size, a) => {
    const reach = (size - 1) * step(e, a);
    if (reach > most) [best, most] = [a, reach];
  });
  return best;
}

/** The most indices of `axis` one part may take for this tensor to fit (0: the axis alone cannot make it fit). */
function runFor(e: Extent, axis: number): number {
  const s = step(e, axis);
  if (s === 0) return Infinity;
  const size = e.shape[e.dims[axis]];
  if (e.fresh) return Math.floor(e.cap / (e.bytes / size));
  // A view's span less its reach along the axis, plus the reach of `run` indices.
  const width = bytesPerElement(e.dtype);
  const rest = e.bytes / width - (size - 1) * s;
  return Math.max(Math.floor((e.cap / width - rest) / s) + 1, 0);
}

/** The axis to slice and how many of its indices one part takes; null when every tensor fits. */
export function chooseCut(p: AxisPlan): { axis: number; run: number } | null {
  const over = extents(p).filter((e) => e.bytes > e.cap);
  if (over.length === 0) return null;
  const dominant = over.map((e) => dominantAxis(e, p.sizes));
  const stuck = dominant.indexOf(-1);
  if (stuck >= 0) {
    const e = over[stuck];
    throw new TensorError(p.op, `a tensor of shape ${formatShape(e.shape)} binds ${e.bytes} bytes, more than the device binds at once (${engine().maxBindingBytes}), and the op cannot be sliced further`);
  }
  // The first axis some oversized tensor is dominated by; the run is the longest that brings each tensor it
  // dominates under the limit (one index at least) and each other tensor that this axis alone can fit.
  const axis = Math.min(...dominant);
  let run = p.sizes[axis];
  over.forEach((e, i) => {
    const r = runFor(e, axis);
    if (dominant[i] === axis || r > 0) run = Math.min(run, Math.max(r, 1));
  });
  return { axis, run };
}

/** Runs the op sliced when a tensor it binds exceeds a binding; null when it need not slice. */
export function sliced(p: AxisPlan): Tensor | null {
  const cut = chooseCut(p);
  if (!cut) return null;
  const { axis, run } = cut;
  const outDim = p.out.dims[axis];
  // split, not one narrow per part: its backward concatenates the parts' gradients once, where each narrow's
  // would scatter into a zero tensor of the whole input.
  const pieces = p.inputs.map((i) => (i && i.dims[axis] >= 0 ? split(i.t, run, i.dims[axis]) : null));
  try {
    return joinRuns(
      p.sizes[axis],
      run,
      (start) => p.part(p.inputs.map((i, k) => pieces[k]?.[start / run] ?? i?.t ?? null), axis, start),
      (parts) => (outDim >= 0 ? concat(parts, outDim) : scope(() => parts.reduce((acc, x) => add(acc, x)))),
    );
  } finally {
    for (const list of pieces) list?.forEach((t) => t.dispose());
  }
}
