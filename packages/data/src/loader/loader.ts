import { decodeImage } from '#decode';
import type { Dataset, OnBadSample, Warn } from '../datasets/types.ts';
import { defaultWarn } from '../datasets/types.ts';
import { DataError } from '../errors.ts';
import { augConfig, type AugConfig, type DeepPartial } from '../transforms/config.ts';
import { WorkerPool } from './pool.ts';
import { allocBatch, type BatchArrays, fillSlot, type LoaderMode, type SampleSpec } from './sample.ts';
import { EpochSampler, type SamplerShard } from './sampler.ts';

export interface LoaderOptions {
  dataset: Dataset;
  batchSize: number;
  seed: number;
  mode?: LoaderMode;
  aug?: DeepPartial<AugConfig>;
  evalSize?: number;
  maskSize?: [number, number];
  withMask?: boolean;
  shuffle?: boolean;
  dropLast?: boolean;
  /** Worker threads; 0 decodes on the calling thread. */
  workers?: number;
  /** Batches prepared ahead of the consumer. */
  prefetch?: number;
  /** Data parallelism: this process's part of each global batch (train mode; see EpochSampler). */
  shard?: SamplerShard;
  /** Resume: the first batch is step `step` of epoch `epoch`. */
  start?: { epoch: number; step: number };
  /** Epochs to run from start.epoch (default: unbounded for train, 1 for eval). */
  epochs?: number;
  /** 'skip' replaces an unreadable sample by the next one in the epoch order and warns; 'error' throws. */
  onBadSample?: OnBadSample;
  warn?: Warn;
}

export interface Batch extends BatchArrays {
  epoch: number;
  step: number;
  /** Samples in this batch (the last of an epoch may be short without dropLast). */
  size: number;
  indices: Int32Array;
  ids: string[];
}

export class DataLoader implements AsyncIterable<Batch> {
  readonly spec: SampleSpec;
  readonly sampler: EpochSampler;
  private readonly pool: WorkerPool | null;
  private readonly ahead: { epoch: number; step: number; promise: Promise<Batch> }[] = [];
  private cursor: { epoch: number; step: number };
  private readonly endEpoch: number;
  private readonly prefetch: number;
  private readonly onBad: OnBadSample;
  private readonly warn: Warn;
  private readonly badFiles = new Set<string>();
  private closed = false;

  constructor(private readonly o: LoaderOptions) {
    const mode = o.mode ?? 'train';
    const aug: AugConfig = augConfig(o.aug);
    this.spec = {
      mode,
      aug,
      numClasses: o.dataset.numClasses,
      evalSize: o.evalSize ?? aug.cropSize,
      maskSize: o.maskSize ?? [500, 500],
      withMask: o.withMask ?? false,
    };
    this.sampler = new EpochSampler(o.dataset.ids.length, o.batchSize, o.seed, o.shuffle ?? mode === 'train', o.dropLast ?? mode === 'train', o.shard);
    const start = o.start ?? { epoch: 0, step: 0 };
    if (start.step < 0 || start.step >= this.sampler.stepsPerEpoch) throw new RangeError(`start step ${start.step} outside 0..${this.sampler.stepsPerEpoch - 1}`);
    this.cursor = { ...start };
    this.endEpoch = start.epoch + (o.epochs ?? (mode === 'train' ? Infinity : 1));
    this.prefetch = Math.max(1, o.prefetch ?? 2);
    this.onBad = o.onBadSample ?? 'error';
    this.warn = o.warn ?? defaultWarn;
    const workers = o.workers ?? 2;
    this.pool = workers > 0 ? new WorkerPool(workers, this.spec) : null;
  }

  get stepsPerEpoch(): number {
    return this.sampler.stepsPerEpoch;
  }

  /** Files that failed and were skipped so far (onBadSample 'skip'). */
  get skippedFiles(): readonly string[] {
    return [...this.badFiles];
  }

  /** The next batch in order, or null after the last epoch. */
  async next(): Promise<Batch | null> {
    if (this.closed) throw new Error('loader is closed');
    this.fill();
    const head = this.ahead.shift();
    if (!head) return null;
    this.fill();
    return head.promise;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Batch> {
    for (;;) {
      const b = await this.next();
      if (!b) return;
      yield b;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool?.close();
    await Promise.allSettled(this.ahead.map((a) => a.promise));
    this.ahead.length = 0;
  }

  private fill(): void {
    while (this.ahead.length < this.prefetch && this.cursor.epoch < this.endEpoch) {
      const { epoch, step } = this.cursor;
      const promise = this.makeBatch(epoch, step);
      promise.catch(() => {}); // observed by next(); avoids unhandled rejections for batches never asked for
      this.ahead.push({ epoch, step, promise });
      this.cursor = step + 1 < this.stepsPerEpoch ? { epoch, step: step + 1 } : { epoch: epoch + 1, step: 0 };
    }
  }

  private async makeBatch(epoch: number, step: number): Promise<Batch> {
    const order = this.sampler.order(epoch);
    const positions = this.sampler.positions(step);
    const arrays = allocBatch(this.spec, positions.length, this.pool !== null);
    const indices = new Int32Array(positions.length);
    const ids: string[] = new Array(positions.length);
    await Promise.all(
      positions.map(async (pos, slot) => {
        const index = await this.loadWithSkip(order, pos, epoch, arrays, slot);
        indices[slot] = index;
        ids[slot] = this.o.dataset.ids[index];
      }),
    );
    return { ...arrays, epoch, step, size: positions.length, indices, ids };
  }

  private async loadWithSkip(order: Uint32Array, pos: number, epoch: number, arrays: BatchArrays, slot: number): Promise<number> {
    const n = order.length;
    for (let k = 0; k < Math.min(n, 32); k++) {
      const index = order[(pos + k) % n];
      const ref = this.o.dataset.sample(index);
      const seed = this.sampler.sampleSeed(epoch, index);
      try {
        if (this.pool) await this.pool.run({ ref, seed, arrays, slot });
        else await fillSlot(ref, seed, this.spec, arrays, slot, decodeImage);
        return index;
      } catch (e) {
        if (this.onBad === 'error' || !(e instanceof DataError)) throw e;
        if (!this.badFiles.has(e.file)) {
          this.badFiles.add(e.file);
          this.warn(`skipping unreadable sample (${this.badFiles.size} so far): ${e.message}`);
        }
      }
    }
    throw new Error(`32 consecutive unreadable samples from epoch position ${pos}; giving up`);
  }
}

export function createLoader(o: LoaderOptions): DataLoader {
  return new DataLoader(o);
}
