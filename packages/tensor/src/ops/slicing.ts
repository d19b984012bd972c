import { bytesPerElement } from '../dtype.ts';
import { TensorError } from '../errors.ts';
import { bindableBytes, spanBytes } from '../kernels/binding.ts';
import { engine } from '../runtime/engine.ts';
import { numel, type Shape } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { bufferBytes } from '../runtime/buffer-bytes.ts';

/**
 * Op-level slicing for ops whose kernels cannot simply be split by output element (matmul, conv, attention,
 * row kernels, reductions): when a tensor the op binds is larger than the device binds at once, the op runs on
 * runs of an independent dimension and the parts are joined (concatenated, or summed where that dimension is
 * reduced). Each part is an ordinary differentiable call of the op on narrowed views, so backward slices too.
 */

/** A tensor an op binds: a tensor, or an output's shape and dtype before it exists. */
export type Bound = Tensor | { shape: Shape; dtype: Tensor['dtype'] };

function boundBytes(b: Bound): number {
  const t = b as Tensor;
  // A view of a big buffer binds only its span (more than its elements when strided); a fresh output its size.
  if ('buffer' in b) return bufferBytes(t.buffer) <= engine().maxBindingBytes ? 0 : spanBytes(t);
  return denseBytes(b);
}

function denseBytes(b: Bound): number {
  return numel(b.shape) * bytesPerElement(b.dtype);
}

/** Whether an op over these tensors must slice: one of them is bigger than a binding. */
export function exceedsBinding(...bound: Bound[]): boolean {
  const limit = bindableBytes();
  return bound.some((b) => boundBytes(b) > limit);
}

/** Whether each of these would fit a binding as a dense copy (a strided view may span more than that). */
export function fitsDense(...bound: Bound[]): boolean {
  const limit = bindableBytes();
  return bound.every((b) => denseBytes(b) <= limit);
}

/**
 * Runs `part(start, len)` over runs of `[0, size)` small enough that every tensor it binds fits a binding, and
 * joins the parts with `join`. `bytesPerIndex` is the most bytes any bound tensor holds per index of the sliced
 * dimension.
 */
export function sliceRuns(
  op: string,
  size: number,
  bytesPerIndex: number,
  part: (start: number, len: number) => Tensor,
  join: (parts: Tensor[]) => Tensor,
): Tensor {
  const run = Math.floor(bindableBytes() / Math.max(bytesPerIndex, 1));
  if (run < 1) {
    throw new TensorError(op, `one slice needs ${bytesPerIndex} bytes, more than the device binds at once (${engine().maxBindingBytes}); it cannot be sliced further`);
  }
  return joinRuns(size, run, part, join);
}

/** Runs `part(start, len)` over `[0, size)` in runs of `run` indices and joins the parts (one part as it is). */
export function joinRuns(size: number, run: number, part: (start: number, len: number) => Tensor, join: (parts: Tensor[]) => Tensor): Tensor {
  const parts: Tensor[] = [];
  try {
    for (let s = 0; s < size; s += run) parts.push(part(s, Math.min(run, size - s)));
    return parts.length === 1 ? parts[0] : join(parts);
  } finally {
    if (parts.length > 1) for (const p of parts) p.dispose();
  }
}

/**
 * The op-level cut of tensors that share independent dims (`sizes`, outer first, the most bytes any bound
 * tensor holds in `bytes`): runs along the first dim longer than 1, down to single indices when one index does
 * not fit but a later dim can still be cut (each part then slices itself along that one). `part(k, start,
 * len)` runs the op on the part; `join(k, parts)` joins the parts along shared dim k.
 */
export function sliceSharedDims(
  op: string,
  sizes: readonly number[],
  bytes: number,
  part: (k: number, start: number, len: number) => Tensor,
  join: (k: number, parts: Tensor[]) => Tensor,
): Tensor {
  const k = sizes.findIndex((s) => s > 1);
  if (k < 0) throw new TensorError(op, `${bytes} bytes for one element of its independent dims, more than the device binds at once (${engine().maxBindingBytes}); it cannot be sliced`);
  const perIndex = bytes / sizes[k];
  const later = sizes.slice(k + 1).some((s) => s > 1);
  return sliceRuns(op, sizes[k], later ? Math.min(perIndex, bindableBytes()) : perIndex, (s, l) => part(k, s, l), (parts) => join(k, parts));
}
