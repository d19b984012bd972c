import { type AllocationRequest, GpuMemoryError, type LiveAllocation, type MemoryFailureKind } from './memory-error.ts';

/**
 * Size-bucketed GPU buffer pool. Freed buffers return here at once: the queue runs commands in order,
 * so a buffer reused by a later dispatch never races an earlier one.
 */
export interface PoolStats {
  /** Buffers handed out and not yet released. */
  liveBuffers: number;
  liveBytes: number;
  /** Buffers kept for reuse. */
  pooledBuffers: number;
  pooledBytes: number;
  /** Buffers ever created on the device. */
  created: number;
  peakLiveBytes: number;
}

const MIN_BUCKET = 256;
const UNLABELED: AllocationRequest = { op: 'buffer' };
const POW2_LIMIT = 1 << 20;

/**
 * Power of two up to 1 MiB, then steps of 1/16 of the next power of two (at most 12.5% waste). Rounding never
 * carries a request past `bindingLimit` (a buffer that fits a binding keeps fitting) nor past `bufferLimit`.
 */
export function bucketSize(bytes: number, bindingLimit = Infinity, bufferLimit = Infinity): number {
  const b = Math.max(bytes, MIN_BUCKET);
  const pow2 = 2 ** Math.ceil(Math.log2(b));
  let size = pow2 <= POW2_LIMIT ? pow2 : Math.ceil(b / (pow2 / 16)) * (pow2 / 16);
  if (bytes <= bindingLimit) size = Math.min(size, bindingLimit);
  size = Math.min(size, bufferLimit);
  return Math.max(Math.ceil(size / 4) * 4, Math.ceil(bytes / 4) * 4);
}

/** A bucket's free buffers and their creation numbers, side by side (the numbers kept sorted). */
interface Bucket {
  buffers: GPUBuffer[];
  serials: number[];
}

/**
 * Reuse order is canonical: acquire() hands out the oldest free buffer of the bucket (lowest creation number),
 * whatever order buffers came back in. So the same sequence of acquires and releases gets the same buffers
 * every time (a training step's dispatches bind the same buffers each iteration and find their bind groups
 * cached), where a last-in-first-out list would permute them from one iteration to the next.
 */
export class BufferPool {
  /** Per bucket, free buffers sorted by descending creation number (pop() takes the oldest). */
  private readonly free = new Map<number, Bucket>();
  /** Each buffer's creation number and size, kept here: a GPUBuffer's own `size` is a native call. */
  private readonly meta = new WeakMap<GPUBuffer, { serial: number; size: number }>();
  private live = 0;
  private liveBytes = 0;
  private pooled = 0;
  private pooledBytes = 0;
  private created = 0;
  private peak = 0;
  /** Bytes the pool may hold, live and cached together; past it, cached buffers go first, then it throws. */
  private budget = Infinity;
  private budgetSource = 'unlimited';
  /** What each live buffer is for, so a memory error can list the largest. */
  private readonly owners = new Map<GPUBuffer, AllocationRequest>();
  /** Buffers whose creation the device reported out of memory: never handed out again. */
  private readonly failed = new WeakSet<GPUBuffer>();
  /** Skips the WeakSet lookup on every release until a creation has failed. */
  private anyFailed = false;
  /**
   * Where a device out-of-memory error at buffer creation goes (the engine throws it at the next sync). When set,
   * each new buffer is created inside an 'out-of-memory' error scope, whose promise is only looked at later.
   */
  onDeviceOutOfMemory: ((e: GpuMemoryError) => void) | null = null;
  /**
   * Called before trim() destroys buffers: the engine submits what it has encoded, since a cached buffer may be
   * bound by a dispatch not yet submitted (destroy waits for submitted work, not for encoded work).
   */
  beforeTrim: (() => void) | null = null;

  constructor(
    private readonly device: GPUDevice,
    private readonly usage: GPUBufferUsageFlags,
    private bindingLimit = Infinity,
    private readonly bufferLimit = Infinity,
    /** Called after trim() destroyed buffers (the engine drops bind groups that hold them). */
    private readonly onTrim?: () => void,
  ) {}

  setBindingLimit(bytes: number): void {
    this.bindingLimit = bytes;
  }

  /** Sets the budget in bytes (Infinity: unlimited); `source` names who set it in error messages. */
  setBudget(bytes: number, source: string): void {
    if (!(bytes > 0)) throw new Error(`a memory budget must be positive, got ${bytes}`);
    this.budget = bytes;
    this.budgetSource = source;
    // Cached buffers past a lowered budget go now, so reusing them cannot hold more than the budget either.
    if (this.liveBytes + this.pooledBytes > bytes) this.trim();
  }

  get budgetBytes(): number {
    return this.budget;
  }

  /**
   * A buffer of at least `bytes`. Throws a GpuMemoryError, before any GPU call, for a size over the device's
   * largest buffer, or one that would pass the budget even after the cached buffers are freed.
   */
  acquire(bytes: number, request: AllocationRequest = UNLABELED): GPUBuffer {
    if (bytes > this.bufferLimit) throw this.memoryError('buffer-limit', request, bytes);
    const size = bucketSize(bytes, this.bindingLimit, this.bufferLimit);
    const list = this.free.get(size);
    let buffer = list?.buffers.pop();
    if (buffer) {
      list!.serials.pop();
      this.pooled--;
      this.pooledBytes -= size;
    } else {
      if (this.liveBytes + this.pooledBytes + size > this.budget) {
        this.trim();
        if (this.liveBytes + size > this.budget) throw this.memoryError('budget', request, size);
      }
      buffer = this.create(size, request);
      this.meta.set(buffer, { serial: this.created++, size });
    }
    this.owners.set(buffer, request);
    this.live++;
    this.liveBytes += size;
    if (this.liveBytes > this.peak) this.peak = this.liveBytes;
    return buffer;
  }

  private create(size: number, request: AllocationRequest): GPUBuffer {
    const report = this.onDeviceOutOfMemory;
    if (!report) return this.device.createBuffer({ size, usage: this.usage });
    this.device.pushErrorScope('out-of-memory');
    const buffer = this.device.createBuffer({ size, usage: this.usage });
    // Not awaited: the allocation path stays synchronous; the error surfaces at the engine's next sync or read.
    this.device.popErrorScope().then(
      (error) => {
        if (!error) return;
        this.failed.add(buffer);
        this.anyFailed = true;
        if (!this.owners.has(buffer)) this.dropPooled(buffer); // released before the scope answered
        report(this.memoryError('device', request, size, error.message));
      },
      () => {}, // device lost: the engine reports that itself
    );
    return buffer;
  }

  private dropPooled(buffer: GPUBuffer): void {
    const list = this.free.get(buffer.size);
    const i = list ? list.buffers.indexOf(buffer) : -1;
    if (i < 0) return;
    list!.buffers.splice(i, 1);
    list!.serials.splice(i, 1);
    this.pooled--;
    this.pooledBytes -= buffer.size;
    buffer.destroy();
  }

  /** A GpuMemoryError with the pool's state now: live bytes, the budget and the largest live buffers. */
  memoryError(kind: MemoryFailureKind, request: AllocationRequest, bytesAsked: number, deviceMessage?: string): GpuMemoryError {
    return new GpuMemoryError({
      kind,
      request,
      bytesAsked,
      liveBytes: this.liveBytes,
      limitBytes: kind === 'buffer-limit' ? this.bufferLimit : this.budget,
      largest: this.largestLive(),
      budgetSource: this.budgetSource,
      deviceMessage,
    });
  }

  /** The `count` largest live buffers, largest first. */
  largestLive(count = 5): LiveAllocation[] {
    const all: LiveAllocation[] = [];
    for (const [buffer, request] of this.owners) all.push({ ...request, bytes: buffer.size });
    return all.sort((a, b) => b.bytes - a.bytes).slice(0, count);
  }

  release(buffer: GPUBuffer): void {
    const meta = this.meta.get(buffer);
    const size = meta?.size ?? buffer.size;
    this.owners.delete(buffer);
    if (this.anyFailed && this.failed.has(buffer)) {
      // An invalid buffer (its creation failed): pooling it would fail every op that reused it.
      buffer.destroy();
      this.live--;
      this.liveBytes -= size;
      return;
    }
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = { buffers: [], serials: [] }));
    const id = meta?.serial ?? Infinity;
    const serials = list.serials;
    let lo = 0;
    let hi = serials.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (serials[mid] > id) lo = mid + 1;
      else hi = mid;
    }
    // A push where it belongs last: splice is the slower call.
    if (lo === serials.length) {
      list.buffers.push(buffer);
      serials.push(id);
    } else {
      list.buffers.splice(lo, 0, buffer);
      serials.splice(lo, 0, id);
    }
    this.live--;
    this.liveBytes -= size;
    this.pooled++;
    this.pooledBytes += size;
  }

  /** Destroys the buffers kept for reuse (live ones stay). */
  trim(): void {
    this.beforeTrim?.();
    for (const list of this.free.values()) for (const b of list.buffers) b.destroy();
    this.free.clear();
    this.pooled = 0;
    this.pooledBytes = 0;
    this.onTrim?.();
  }

  /** Starts the peak over from the bytes live now (torch.cuda.reset_peak_memory_stats). */
  resetPeak(): void {
    this.peak = this.liveBytes;
  }

  stats(): PoolStats {
    return {
      liveBuffers: this.live,
      liveBytes: this.liveBytes,
      pooledBuffers: this.pooled,
      pooledBytes: this.pooledBytes,
      created: this.created,
      peakLiveBytes: this.peak,
    };
  }
}
