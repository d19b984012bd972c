import { bytesPerElement, type DType } from './dtype.ts';
import { engine } from './runtime/engine.ts';
import type { AllocationRequest } from './runtime/memory-error.ts';

/** A reference-counted GPU buffer. Every Tensor handle that views it holds one reference. */
export class Storage {
  private refs = 1;
  private buf: GPUBuffer | null;

  constructor(
    buffer: GPUBuffer,
    /** Elements the buffer was allocated for (the pool may round the buffer up). */
    readonly numel: number,
    readonly dtype: DType,
  ) {
    this.buf = buffer;
  }

  /** `request` names the op and shape in a memory error. */
  static allocate(numel: number, dtype: DType, request?: AllocationRequest): Storage {
    // Pool buckets are multiples of 4 bytes, so an odd count of halves still gets whole words.
    const bytes = Math.max(numel, 1) * bytesPerElement(dtype);
    return new Storage(engine().pool.acquire(bytes, request), numel, dtype);
  }

  get buffer(): GPUBuffer {
    if (!this.buf) throw new Error('storage used after it was freed');
    return this.buf;
  }

  get alive(): boolean {
    return this.buf !== null;
  }

  get byteLength(): number {
    return this.numel * bytesPerElement(this.dtype);
  }

  /** True when more than one handle views this storage (writing it in place would change the others). */
  get shared(): boolean {
    return this.refs > 1;
  }

  retain(): this {
    this.refs++;
    return this;
  }

  release(): void {
    if (!this.buf) return;
    if (--this.refs === 0) {
      const e = engine();
      if (!e.destroyed) e.pool.release(this.buf);
      this.buf = null;
    }
  }
}
