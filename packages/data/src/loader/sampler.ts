import { deriveSeed, Rng } from '../rng.ts';

/** One process's part of every global batch under data parallelism: rank r of count. */
export interface SamplerShard {
  rank: number;
  count: number;
}

/**
 * Epoch order and per-sample seeds, pure functions of (seed, epoch, index): worker count and timing never matter.
 * With a shard, a global batch is `count × batchSize` positions of the epoch order and rank r takes positions
 * r·batchSize .. r·batchSize + batchSize − 1 of it, so the ranks together see exactly the samples (and, seeds
 * being per sample, the augmentations) of one process with the global batch.
 */
export class EpochSampler {
  private cache: { epoch: number; perm: Uint32Array } | null = null;
  constructor(
    readonly size: number,
    readonly batchSize: number,
    readonly seed: number,
    readonly shuffle: boolean,
    readonly dropLast: boolean,
    readonly shard: SamplerShard = { rank: 0, count: 1 },
  ) {
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batchSize must be a positive integer, got ${batchSize}`);
    const { rank, count } = shard;
    if (!Number.isInteger(count) || count < 1 || !Number.isInteger(rank) || rank < 0 || rank >= count) throw new Error(`shard rank ${rank} of ${count} is not 0 <= rank < count`);
    if (count > 1 && !dropLast) throw new Error('a sharded sampler needs dropLast (every rank takes a full batch)');
    const global = batchSize * count;
    if (dropLast && size < global) throw new Error(`dataset of ${size} samples is smaller than one batch of ${global}${count > 1 ? ` (${count} ranks × ${batchSize})` : ''} (dropLast)`);
  }

  /** Positions per step over all ranks. */
  get globalBatchSize(): number {
    return this.batchSize * this.shard.count;
  }

  get stepsPerEpoch(): number {
    return this.dropLast ? Math.floor(this.size / this.globalBatchSize) : Math.ceil(this.size / this.globalBatchSize);
  }

  order(epoch: number): Uint32Array {
    if (this.cache?.epoch !== epoch) {
      const perm = this.shuffle ? new Rng(deriveSeed(this.seed, epoch, 0x5eed)).permutation(this.size) : Uint32Array.from({ length: this.size }, (_, i) => i);
      this.cache = { epoch, perm };
    }
    return this.cache.perm;
  }

  /** Positions in the epoch order of batch `step`. */
  positions(step: number): number[] {
    const start = step * this.globalBatchSize + this.shard.rank * this.batchSize;
    const end = Math.min(start + this.batchSize, this.size);
    return Array.from({ length: end - start }, (_, i) => start + i);
  }

  sampleSeed(epoch: number, index: number): number {
    return deriveSeed(this.seed, epoch, index);
  }
}
