// What `seco train` does differently under mpirun, kept out of the trainer: the loader's shard, rank 0's state
// broadcast before the first step, the step's data-parallel hooks, and the weight check every K iterations.
import type { SamplerShard } from '@seco/data';
import type { WsssNetwork } from '@seco/models';
import { type BaseHyper, exportMatmulTuning, importMatmulTuning, type Optimizer, type Tensor } from '@seco/tensor';
import type { Communicator } from './communicator.ts';
import { DataParallel, DEFAULT_BUCKET_ELEMENTS } from './data-parallel.ts';
import { NativeBuffer } from './native-buffer.ts';

export interface ParallelOptions {
  world: Communicator;
  /** Compare the ranks' weight hashes every this many iterations (0: never; the end of training always). */
  checkEvery: number;
  /** Gradient bucket size in MiB (DEFAULT_BUCKET_ELEMENTS when absent). */
  bucketMb?: number;
}

export class ParallelTraining {
  readonly dp: DataParallel;
  readonly shard: SamplerShard;
  private checks = 0;
  private lines: string[] = [];

  /** Lines for the progress log since the last call (the final weight check's result). */
  takeNotes(): string[] {
    const out = this.lines;
    this.lines = [];
    return out;
  }

  /** The first iteration this process runs (a resumed run starts later); tuning happens after it. */
  private firstIteration: number | null = null;

  /** Called before each step. */
  beforeStep(iteration: number): void {
    this.firstIteration ??= iteration;
  }

  constructor(
    private readonly o: ParallelOptions,
    private readonly net: WsssNetwork,
    private readonly optimizer: Pick<Optimizer<BaseHyper>, 'parameters' | 'masterWeight'>,
  ) {
    const bucketElements = o.bucketMb ? Math.max(1, Math.floor((o.bucketMb * 1024 * 1024) / 4)) : DEFAULT_BUCKET_ELEMENTS;
    this.dp = new DataParallel(o.world, optimizer.parameters, bucketElements);
    this.shard = { rank: o.world.rank, count: o.world.size };
  }

  /** What every rank must hold alike: the network's state and, under mixed precision, the f32 masters. */
  private replicated(): [string, Tensor][] {
    const masters = this.optimizer.parameters.flatMap((p, i): [string, Tensor][] => {
      const m = this.optimizer.masterWeight(p);
      return m ? [[`optimizer.master.${i}`, m]] : [];
    });
    return [...Object.entries(this.net.stateDict()), ...masters];
  }

  /** Only rank 0 times matmul tiles; the others take its choices (shareTuning), so every rank runs the same kernels. */
  get tunes(): boolean {
    return this.o.world.rank === 0;
  }

  /**
   * Every rank starts from rank 0's weights, float buffers and masters (as DDP at construction) and its matmul tiles;
   * then checks that the state agrees.
   */
  async start(): Promise<void> {
    await this.shareTuning();
    const state = this.replicated();
    await this.dp.broadcastFromRoot(state.filter(([, t]) => t.dtype === 'f32' || t.dtype === 'f16').map(([, t]) => t));
    await this.dp.checkAgreement(state, 'at the start');
  }

  /**
   * Rank 0's matmul tile choices into every rank, so every rank runs the same kernels (the prototype update is a
   * matmul run on every rank, and must give the same bits everywhere) and only rank 0 spends time tuning.
   */
  async shareTuning(): Promise<void> {
    const { world } = this.o;
    const bytes = world.rank === 0 ? Buffer.from(JSON.stringify(exportMatmulTuning())) : null;
    const len = new NativeBuffer('i32', 1);
    try {
      len.array[0] = bytes?.length ?? 0;
      await world.broadcast(len, 0);
      const n = len.array[0];
      if (n === 0) return;
      const buf = new NativeBuffer('u8', n);
      try {
        if (bytes) buf.array.set(bytes);
        await world.broadcast(buf, 0);
        if (world.rank !== 0) importMatmulTuning(JSON.parse(Buffer.from(buf.array).toString('utf8')) as Record<string, unknown>);
      } finally {
        buf.free();
      }
    } finally {
      len.free();
    }
  }

  /** After iteration `iteration` (0-based): rank 0's tiles after the first (tuned) one; the weight check when due. */
  async afterStep(iteration: number, last: boolean): Promise<void> {
    if (iteration === this.firstIteration) await this.shareTuning();
    const done = iteration + 1;
    const k = this.o.checkEvery;
    // Also after this process's first iteration: ranks that resumed from different checkpoints stop at once.
    if (!(last || iteration === this.firstIteration || (k > 0 && done % k === 0))) return;
    const state = this.replicated();
    await this.dp.checkAgreement(state, `after iteration ${done}`);
    this.checks++;
    if (!last) return;
    this.lines.push(`weights identical on all ${this.o.world.size} ranks after iteration ${done} (sha256 of ${state.length} tensors; ${this.checks} checks this run)`);
    const { buckets, startedInBackward } = this.dp.lastReduce;
    this.lines.push(`gradient buckets read back during backward in the last step: ${startedInBackward} of ${buckets} (the rest after it)`);
  }

  close(): void {
    this.dp.close();
  }
}
