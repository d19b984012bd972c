import { bytesPerElement, type DType } from '../dtype.ts';
import { TensorError } from '../errors.ts';
import { type BufferWindow, engine } from '../runtime/engine.ts';
import { formatShape, type Shape } from '../shape.ts';
import { bufferBytes } from '../runtime/buffer-bytes.ts';

/** What a kernel needs of a tensor to bind it: a Tensor is one; so is a slice made by kernels/slices.ts. */
export interface ViewLike {
  readonly buffer: GPUBuffer;
  readonly dtype: DType;
  readonly shape: Shape;
  readonly strides: Shape;
  readonly offset: number;
}

/** A tensor as a kernel binds it: the buffer (or a window of it) and the view's element offset inside that. */
export interface BoundView {
  resource: GPUBuffer | BufferWindow;
  /** Element offset of the view's first element relative to the start of `resource`. */
  offset: number;
}

/** Lowest and highest element offsets a strided view touches (inclusive); null when it has no element. */
export function viewSpan(shape: Shape, strides: Shape, offset: number): [number, number] | null {
  let lo = offset;
  let hi = offset;
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 0) return null;
    const reach = (shape[d] - 1) * strides[d];
    if (reach < 0) lo += reach;
    else hi += reach;
  }
  return [lo, hi];
}

/**
 * Binds a tensor for a kernel. A buffer no larger than the binding limit is bound whole (offset unchanged);
 * a larger one is bound as the window its view spans, and the kernel's offset is rebased into that window. The
 * ops keep every view they bind within the limit (kernels/slices.ts); one that is not is a bug, named here.
 */
export function bindView(t: ViewLike, op: string): BoundView {
  const e = engine();
  const buffer = t.buffer;
  const bytes = bufferBytes(buffer);
  if (bytes <= e.maxBindingBytes) return { resource: buffer, offset: t.offset };
  const width = bytesPerElement(t.dtype);
  const span = viewSpan(t.shape, t.strides, t.offset) ?? [t.offset, t.offset];
  const start = Math.floor((span[0] * width) / e.bindingAlignment) * e.bindingAlignment;
  const end = Math.min(Math.ceil(((span[1] + 1) * width) / 4) * 4, bytes);
  const size = Math.max(end - start, 4);
  if (size > e.maxBindingBytes) {
    throw new TensorError(
      op,
      `a view of shape ${formatShape(t.shape)} spans ${size} bytes of its buffer, more than the device binds at once (${e.maxBindingBytes}); the op should have sliced it`,
    );
  }
  return { resource: { buffer, offset: start, size }, offset: t.offset - start / width };
}

/** The most bytes a view may span and still be bound: the limit less the slack of aligning a window's start. */
export function bindableBytes(): number {
  const e = engine();
  return e.maxBindingBytes - e.bindingAlignment;
}

/** Bytes of the buffer range a view spans (0 for an empty view). */
export function spanBytes(t: ViewLike): number {
  const span = viewSpan(t.shape, t.strides, t.offset);
  return span ? (span[1] - span[0] + 1) * bytesPerElement(t.dtype) : 0;
}

/** Every buffer is bound whole: the common case, with nothing to slice. */
export function allBindWhole(views: readonly ViewLike[]): boolean {
  const limit = engine().maxBindingBytes;
  return views.every((v) => bufferBytes(v.buffer) <= limit);
}
