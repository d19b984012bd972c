import { deriveSeed, Rng } from '../rng.ts';

/** Epoch order and per-sample seeds, pure functions of (seed, epoch, index): worker count and timing never matter. */
export class EpochSampler {
  private cache: { epoch: number; perm: Uint32Array } | null = null;
  constructor(
    readonly size: number,
    readonly batchSize: number,
    readonly seed: number,
    readonly shuffle: boolean,
    readonly dropLast: boolean,
  ) {
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batchSize must be a positive integer, got ${batchSize}`);
    if (dropLast && size < batchSize) throw new Error(`dataset of ${size} samples is smaller than one batch of ${batchSize} (dropLast)`);
  }

  get stepsPerEpoch(): number {
    return this.dropLast ? Math.floor(this.size / this.batchSize) : Math.ceil(this.size / this.batchSize);
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
    const start = step * this.batchSize;
    const end = Math.min(start + this.batchSize, this.size);
    return Array.from({ length: end - start }, (_, i) => start + i);
  }

  sampleSeed(epoch: number, index: number): number {
    return deriveSeed(this.seed, epoch, index);
  }
}
