// The training loader with a resumable position: the next (epoch, step) to consume, saved in checkpoints.
import { type Batch, createLoader, type DataLoader, type SamplerShard } from '@seco/data';
import type { SecoConfig } from '../config/schema.ts';
import { openSplit } from '../dataset.ts';
import type { JsonPart } from '../checkpoint/train-state.ts';

export class TrainBatches {
  private loader: DataLoader | null = null;
  private pos = { epoch: 0, step: 0 };
  /** `shard`: this rank's part of every global batch under data parallelism; the position counts global steps. */
  constructor(
    private readonly config: SecoConfig,
    private readonly shard?: SamplerShard,
  ) {}

  /** The loader starts lazily, so a resumed position set before the first batch is where it begins. */
  async next(): Promise<Batch> {
    const c = this.config;
    this.loader ??= createLoader({
      dataset: openSplit(c, 'train', { masks: false }),
      batchSize: c.train.batch_size,
      seed: c.train.seed,
      aug: { cropSize: c.train.crop_size },
      workers: c.data.workers,
      start: { ...this.pos },
      shard: this.shard,
    });
    const b = await this.loader.next();
    if (!b) throw new Error('the training loader ended (it is unbounded in train mode)');
    const last = b.step + 1 >= this.loader.sampler.stepsPerEpoch;
    this.pos = last ? { epoch: b.epoch + 1, step: 0 } : { epoch: b.epoch, step: b.step + 1 };
    return b;
  }

  /** Data-parallel runs also record their rank count: the position means other samples under another count. */
  readonly position: JsonPart = {
    get: () => (this.ranks > 1 ? { ...this.pos, ranks: this.ranks } : { ...this.pos }),
    set: (v) => {
      const p = v as { epoch?: unknown; step?: unknown; ranks?: unknown };
      if (!Number.isInteger(p?.epoch) || !Number.isInteger(p?.step)) throw new Error(`loader position ${JSON.stringify(v)} is not { epoch, step }`);
      const ranks = p.ranks ?? 1;
      if (ranks !== this.ranks) throw new Error(`it was trained on ${ranks} rank${ranks === 1 ? '' : 's'} and this run has ${this.ranks}: resume it with the same count (mpirun -np ${ranks}), or the data order changes`);
      this.pos = { epoch: p.epoch as number, step: p.step as number };
      // A running loader is ahead of the restored position: restart it there.
      void this.close();
    },
  };

  private get ranks(): number {
    return this.shard?.count ?? 1;
  }

  async close(): Promise<void> {
    const l = this.loader;
    this.loader = null;
    await l?.close();
  }
}
