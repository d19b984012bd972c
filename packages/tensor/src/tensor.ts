import { type AnyTypedArray, bytesPerElement, type DType, viewAs } from './dtype.ts';
import { TensorError } from './errors.ts';
import { assertF16Op, checkF16Support, unpackHalves } from './f16.ts';
import { leakTracking, trackTensor } from './memory.ts';
import { engine } from './runtime/engine.ts';
import { contiguousStrides, formatShape, isContiguous, numel, type Shape } from './shape.ts';
import { Storage } from './storage.ts';
import type { GradNode } from './autograd/graph.ts';

/**
 * The copy op that data() needs for a strided view, bound late by ops/view.ts: that module constructs Tensors,
 * so tensor.ts cannot import it.
 */
export const hooks: {
  contiguous?: (t: Tensor) => Tensor;
} = {};

let nextId = 1;

/**
 * A handle on a strided view of GPU storage. Views share storage (reference-counted); dispose() drops this
 * handle's reference, and the buffer returns to the pool when the last handle goes.
 */
export class Tensor {
  readonly id = nextId++;
  readonly __isTensor = true;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly offset: number;
  readonly dtype: DType;
  /** The op that produced this tensor, for error messages and leak reports. */
  readonly op: string;
  requiresGrad = false;
  grad: Tensor | null = null;
  /** The autograd node that produced this tensor (null for leaves and for tensors made without grad). */
  gradNode: GradNode | null = null;
  /** Which output of gradNode this tensor is. */
  gradIndex = 0;
  /** Set on a node's saved handle of its own output: linked for createGraph, but not holding the node. */
  weakGradLink = false;
  /** On a saved handle of a leaf: the leaf whose .grad receives gradients that reach the handle. */
  leafSource: Tensor | null = null;
  /** Called by backward once this leaf's .grad holds its last contribution of that pass (see the method below). */
  postAccumulateGradHooks: ((leaf: Tensor) => void)[] = [];
  private _storage: Storage | null;

  constructor(storage: Storage, shape: Shape, strides: Shape, offset: number, dtype: DType, op: string) {
    this._storage = storage;
    this.shape = Object.freeze([...shape]);
    this.strides = Object.freeze([...strides]);
    this.offset = offset;
    this.dtype = dtype;
    this.op = op;
    trackTensor(this);
    if (leakTracking.enabled) {
      leakTracking.live.set(this.id, { op, shape: this.shape, stack: new Error().stack?.split('\n').slice(2, 7).join('\n') });
    }
  }

  /** A fresh contiguous tensor of the given shape, its contents undefined. */
  static empty(shape: Shape, dtype: DType, op: string): Tensor {
    const n = numel(shape);
    const e = engine();
    if (dtype === 'f16') checkF16Support(op, e.supportsF16);
    // Larger than a binding is fine (kernels bind windows of it); larger than a buffer is not, nor past the
    // memory budget: the pool throws a GpuMemoryError naming this op and shape before any GPU call.
    const t = new Tensor(Storage.allocate(n, dtype, { op, shape, dtype }), shape, contiguousStrides(shape), 0, dtype, op);
    if (e.nanCheck && dtype === 'f32') e.expectNanCheck(t.buffer, n, shape);
    return t;
  }

  get storage(): Storage {
    if (!this._storage) {
      throw new TensorError('use', `tensor #${this.id} ${formatShape(this.shape)} (made by ${this.op}) was used after dispose()`);
    }
    return this._storage;
  }

  get buffer(): GPUBuffer {
    return this.storage.buffer;
  }

  get disposed(): boolean {
    return this._storage === null;
  }

  get rank(): number {
    return this.shape.length;
  }

  get size(): number {
    return numel(this.shape);
  }

  get isContiguous(): boolean {
    return isContiguous(this.shape, this.strides);
  }

  get isLeaf(): boolean {
    return this.gradNode === null;
  }

  /**
   * PyTorch's register_post_accumulate_grad_hook: `fn(leaf)` runs during backward() as soon as no later part of
   * that pass can add to this leaf's .grad, once per pass that gave it a gradient. Data parallelism uses it to
   * start moving a gradient while backward is still encoding the layers below.
   */
  registerPostAccumulateGradHook(fn: (leaf: Tensor) => void): { remove(): void } {
    if (!this.isLeaf) throw new TensorError('registerPostAccumulateGradHook', `tensor from ${this.op} is not a leaf: only leaves accumulate .grad`);
    this.postAccumulateGradHooks.push(fn);
    return {
      remove: () => {
        const i = this.postAccumulateGradHooks.indexOf(fn);
        if (i >= 0) this.postAccumulateGradHooks.splice(i, 1);
      },
    };
  }

  /** A new handle on the same storage with other geometry (no copy). Autograd is the caller's business. */
  view(shape: Shape, strides: Shape, offset: number, op: string): Tensor {
    return new Tensor(this.storage.retain(), shape, strides, offset, this.dtype, op);
  }

  /**
   * Points this handle at `src`'s data (same shape) instead of its own, as PyTorch's `param.data = ...`, so
   * module.to(dtype) keeps every reference to a parameter (module fields, optimizer lists) valid. `src` keeps
   * its own reference; the caller still disposes it.
   */
  setData(src: Tensor): void {
    if (src.shape.length !== this.shape.length || src.shape.some((s, i) => s !== this.shape[i])) {
      throw new TensorError('setData', `shape ${formatShape(src.shape)} does not match ${formatShape(this.shape)}`);
    }
    const next = src.storage.retain();
    this.storage.release();
    this._storage = next;
    const self = this as { -readonly [K in 'dtype' | 'strides' | 'offset']: Tensor[K] };
    self.dtype = src.dtype;
    self.strides = src.strides;
    self.offset = src.offset;
  }

  dispose(): void {
    if (!this._storage) return;
    this._storage.release();
    this._storage = null;
    if (leakTracking.enabled) leakTracking.live.delete(this.id);
    if (this.gradNode && !this.weakGradLink) {
      this.gradNode.release();
      this.gradNode = null;
    }
  }

  /**
   * Reads the tensor back to the host as a typed array in row-major order. f16 comes back widened to a
   * Float32Array (exact), or as the raw half bits in a Uint16Array with `{ raw: true }`.
   */
  async data(): Promise<AnyTypedArray>;
  async data(options: { raw: true }): Promise<AnyTypedArray | Uint16Array>;
  async data(options: { raw?: boolean } = {}): Promise<AnyTypedArray | Uint16Array> {
    const n = this.size;
    const half = this.dtype === 'f16';
    if (n === 0) return half && options.raw ? new Uint16Array(0) : viewAs(this.dtype, new ArrayBuffer(0));
    const src = this.isContiguous ? this : hooks.contiguous!(this);
    const width = bytesPerElement(this.dtype);
    try {
      // Reads are whole 4-byte words: an f16 view at an odd element offset starts one half early.
      const skip = half ? src.offset & 1 : 0;
      const bytes = await engine().read(src.buffer, (src.offset - skip) * width, (n + skip) * width);
      if (!half) return viewAs(this.dtype, bytes);
      const bits = new Uint16Array(bytes, skip * 2, n);
      return options.raw ? bits : unpackHalves(bits);
    } finally {
      if (src !== this) src.dispose();
    }
  }

  /** The value of a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new TensorError('item', `needs a tensor of one element, got ${formatShape(this.shape)}`);
    return (await this.data())[0];
  }

  /** Nested JavaScript arrays, as PyTorch's tolist(). */
  async array(): Promise<unknown> {
    const flat = Array.from(await this.data());
    const build = (dim: number, off: number): unknown => {
      if (dim === this.rank) return flat[off];
      const step = numel(this.shape.slice(dim + 1));
      return Array.from({ length: this.shape[dim] }, (_, i) => build(dim + 1, off + i * step));
    };
    return build(0, 0);
  }

  toString(): string {
    return `Tensor(#${this.id} ${this.dtype} ${formatShape(this.shape)} from ${this.op}${this.requiresGrad ? ', requiresGrad' : ''})`;
  }
}

export function assertTensor(op: string, t: unknown, name = 'input'): asserts t is Tensor {
  if (!(t instanceof Tensor)) throw new TensorError(op, `${name} must be a Tensor, got ${typeof t}`);
  t.storage; // throws a named error when disposed
  if (t.dtype === 'f16') assertF16Op(op);
}
