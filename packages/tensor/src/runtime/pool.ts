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

/**
 * Reuse order is canonical: acquire() hands out the oldest free buffer of the bucket (lowest creation number),
 * whatever order buffers came back in. So the same sequence of acquires and releases gets the same buffers
 * every time (a training step's dispatches bind the same buffers each iteration and find their bind groups
 * cached), where a last-in-first-out list would permute them from one iteration to the next.
 */
export class BufferPool {
  /** Per bucket, free buffers sorted by descending creation number (pop() takes the oldest). */
  private readonly free = new Map<number, GPUBuffer[]>();
  private readonly serial = new WeakMap<GPUBuffer, number>();
  private live = 0;
  private liveBytes = 0;
  private pooled = 0;
  private pooledBytes = 0;
  private created = 0;
  private peak = 0;

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

  acquire(bytes: number): GPUBuffer {
    const size = bucketSize(bytes, this.bindingLimit, this.bufferLimit);
    const list = this.free.get(size);
    let buffer = list?.pop();
    if (buffer) {
      this.pooled--;
      this.pooledBytes -= size;
    } else {
      buffer = this.device.createBuffer({ size, usage: this.usage });
      this.serial.set(buffer, this.created++);
    }
    this.live++;
    this.liveBytes += size;
    if (this.liveBytes > this.peak) this.peak = this.liveBytes;
    return buffer;
  }

  release(buffer: GPUBuffer): void {
    const size = buffer.size;
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    const id = this.serial.get(buffer) ?? Infinity;
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.serial.get(list[mid]) ?? Infinity) > id) lo = mid + 1;
      else hi = mid;
    }
    list.splice(lo, 0, buffer);
    this.live--;
    this.liveBytes -= size;
    this.pooled++;
    this.pooledBytes += size;
  }

  /** Destroys the buffers kept for reuse (live ones stay). */
  trim(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    this.free.clear();
    this.pooled = 0;
    this.pooledBytes = 0;
    this.onTrim?.();
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
