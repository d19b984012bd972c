// SeCo's DistributedDataParallel over MPI: gradients averaged over ranks (all-reduce in buckets), the teacher keys
// and the prototype inputs gathered from every rank (concat_all_gather), rank 0's state broadcast at the start,
// and a per-tensor hash of the state compared across ranks, so ranks that drift apart stop the run.
import { createHash } from 'node:crypto';
import type { SecoDataParallel } from '@seco/models';
import { type Tensor, tensor, zeros } from '@seco/tensor';
import type { Communicator } from './communicator.ts';
import { buckets, readBucket, writeBucket } from './host-buckets.ts';
import { NativeBuffer } from './native-buffer.ts';

/** PyTorch DDP's default bucket: 25 MiB of f32. */
export const DEFAULT_BUCKET_ELEMENTS = (25 * 1024 * 1024) / 4;

/** Ranks whose state differs from rank 0's: the message names them and the first tensor that differs. */
export class RankDivergenceError extends Error {
  override name = 'RankDivergenceError';
}

export class DataParallel implements SecoDataParallel {
  private staging: NativeBuffer<'f32'> | null = null;

  constructor(
    readonly comm: Communicator,
    /** The trained parameters, in the same order on every rank (the optimizer's). */
    private readonly params: readonly Tensor[],
    private readonly bucketElements = DEFAULT_BUCKET_ELEMENTS,
  ) {}

  private buffer(n: number): NativeBuffer<'f32'> {
    if (!this.staging || this.staging.length < n) {
      this.staging?.free();
      this.staging = new NativeBuffer('f32', n);
    }
    return this.staging;
  }

  /**
   * Every parameter's .grad becomes the mean over ranks. A parameter that has a gradient on some ranks only gets
   * a zero one where it has none first (DDP's unused parameters); one with a gradient on no rank stays without.
   * The next bucket's readback is in flight while a bucket is all-reduced; backward itself is over by then
   * (the engine records no per-parameter readiness, so nothing overlaps backward yet).
   */
  async reduceGradients(): Promise<void> {
    const { comm, params } = this;
    const present = new NativeBuffer('i32', params.length);
    try {
      params.forEach((p, i) => (present.array[i] = p.grad ? 1 : 0));
      await comm.allreduceSum(present);
      params.forEach((p, i) => {
        if (!p.grad && present.array[i] > 0) p.grad = zeros(p.shape);
      });
    } finally {
      present.free();
    }
    const grads = params.filter((p) => p.grad).map((p) => p.grad!);
    const groups = buckets(grads, this.bucketElements);
    if (groups.length === 0) return;
    const scale = 1 / comm.size;
    // A readback still in flight when a collective fails is awaited by nobody: its rejection must not crash.
    const read = (g: Tensor[]) => {
      const p = readBucket(g);
      p.catch(() => {});
      return p;
    };
    let next = read(groups[0]);
    for (let b = 0; b < groups.length; b++) {
      const host = await next;
      if (b + 1 < groups.length) next = read(groups[b + 1]);
      const buf = this.buffer(host.length);
      const a = buf.array.subarray(0, host.length);
      a.set(host);
      await comm.allreduceSum(buf.prefix(host.length));
      for (let i = 0; i < a.length; i++) a[i] *= scale;
      writeBucket(groups[b], a);
    }
  }

  /** concat_all_gather: every rank's (n, D) rows and n tags, rank-major (each rank gives the same n). */
  async gather(rows: Tensor, tags: ArrayLike<number>): Promise<{ rows: Tensor; tags: Int32Array }> {
    const { comm } = this;
    const [n, d] = rows.shape;
    if (rows.rank !== 2 || tags.length !== n) throw new Error(`gather: needs rows (n, D) and n tags, got [${rows.shape.join(', ')}] and ${tags.length}`);
    const host = (await rows.data()) as Float32Array;
    const send = new NativeBuffer('f32', n * d);
    const got = new NativeBuffer('f32', comm.size * n * d);
    const sendTags = new NativeBuffer('i32', n);
    const gotTags = new NativeBuffer('i32', comm.size * n);
    try {
      send.array.set(host);
      sendTags.array.set(Int32Array.from(tags));
      await Promise.all([comm.allgather(send, got), comm.allgather(sendTags, gotTags)]);
      return { rows: tensor(Float32Array.from(got.array), [comm.size * n, d]), tags: Int32Array.from(gotTags.array) };
    } finally {
      for (const b of [send, got, sendTags, gotTags]) b.free();
    }
  }

  /** Rank 0's values into every rank's tensors (DDP's broadcast at construction), in buckets. */
  async broadcastFromRoot(tensors: readonly Tensor[]): Promise<void> {
    for (const group of buckets(tensors, this.bucketElements)) {
      const host = await readBucket(group);
      const buf = this.buffer(host.length);
      buf.array.set(host);
      await this.comm.broadcast(buf.prefix(host.length), 0);
      writeBucket(group, buf.array.subarray(0, host.length));
    }
  }

  /**
   * Compares a sha256 of each named tensor across ranks; throws RankDivergenceError on every rank when any rank
   * differs from rank 0, naming the ranks, the first tensor that differs and `when`.
   */
  async checkAgreement(named: readonly [string, Tensor][], when: string): Promise<void> {
    const { comm } = this;
    const mine = new NativeBuffer('u8', named.length * 32);
    const all = new NativeBuffer('u8', comm.size * named.length * 32);
    try {
      for (let i = 0; i < named.length; i++) {
        const v = await named[i][1].data();
        mine.array.set(createHash('sha256').update(new Uint8Array(v.buffer, v.byteOffset, v.byteLength)).digest(), i * 32);
      }
      await comm.allgather(mine, all);
      const stride = named.length * 32;
      const root = all.array.subarray(0, stride);
      const differing: string[] = [];
      for (let r = 1; r < comm.size; r++) {
        const other = all.array.subarray(r * stride, (r + 1) * stride);
        const t = named.findIndex((_, i) => !equalBytes(root.subarray(i * 32, i * 32 + 32), other.subarray(i * 32, i * 32 + 32)));
        if (t >= 0) differing.push(`rank ${r} (first at ${named[t][0]})`);
      }
      if (differing.length > 0) {
        throw new RankDivergenceError(`${when}: the weights of ${differing.join(', ')} differ from rank 0's; data-parallel ranks must stay identical, so the run stops`);
      }
    } finally {
      mine.free();
      all.free();
    }
  }

  close(): void {
    this.staging?.free();
    this.staging = null;
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

