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

/** How the last reduceGradients went: buckets whose readback backward itself started, and all buckets reduced. */
export interface ReduceStats {
  buckets: number;
  startedInBackward: number;
}

export class DataParallel implements SecoDataParallel {
  private staging: NativeBuffer<'f32'> | null = null;
  /** The parameters in buckets, last parameters first: backward finishes the last layers' gradients first. */
  private readonly groups: Tensor[][];
  private readonly bucketOf = new Map<Tensor, number>();
  /** Per bucket, the parameters whose gradient backward has finished since the last reduce. */
  private readonly finished: Set<Tensor>[];
  /** Per bucket, the readback started the moment its last gradient was finished, while backward went on. */
  private early: (Promise<Float32Array> | null)[];
  private readonly hooks: { remove(): void }[];
  lastReduce: ReduceStats = { buckets: 0, startedInBackward: 0 };

  constructor(
    readonly comm: Communicator,
    /** The trained parameters, in the same order on every rank (the optimizer's). */
    private readonly params: readonly Tensor[],
    private readonly bucketElements = DEFAULT_BUCKET_ELEMENTS,
  ) {
    this.groups = buckets([...params].reverse(), bucketElements);
    this.groups.forEach((g, b) => g.forEach((p) => this.bucketOf.set(p, b)));
    this.finished = this.groups.map(() => new Set());
    this.early = this.groups.map(() => null);
    // DDP's autograd hooks: a full bucket starts its readback during backward (on the GPU queue behind the
    // gradients it copies), so the transfer and the first all-reduces overlap the rest of backward.
    this.hooks = params.map((p) => p.registerPostAccumulateGradHook(() => this.gradientFinished(p)));
  }

  private gradientFinished(p: Tensor): void {
    const b = this.bucketOf.get(p)!;
    const done = this.finished[b];
    done.add(p);
    // A later backward before the reduce (accumulation) finishes the bucket again: the newer readback wins.
    if (done.size === this.groups[b].length && this.groups[b].every((q) => q.grad)) this.early[b] = quietly(readBucket(this.groups[b].map((q) => q.grad!)));
  }

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
   * Buckets that backward completed were already read back during it; the rest are read now, one ahead of the
   * all-reduce. Every rank reduces the same buckets in the same order.
   */
  async reduceGradients(): Promise<void> {
    const { comm, params, groups } = this;
    const early = this.early;
    this.early = groups.map(() => null);
    for (const f of this.finished) f.clear();
    const present = new NativeBuffer('i32', params.length);
    try {
      params.forEach((p, i) => (present.array[i] = p.grad ? 1 : 0));
      await comm.allreduceSum(present);
      params.forEach((p, i) => {
        if (!p.grad && present.array[i] > 0) p.grad = zeros(p.shape, p.dtype);
      });
    } finally {
      present.free();
    }
    // A parameter without a gradient on any rank takes part as zeros and keeps no gradient.
    const read = (b: number) => early[b] ?? quietly(readWithZeros(groups[b]));
    this.lastReduce = { buckets: groups.length, startedInBackward: early.filter((e) => e !== null).length };
    const scale = 1 / comm.size;
    let next = groups.length > 0 ? read(0) : null;
    for (let b = 0; b < groups.length; b++) {
      const host = await next!;
      if (b + 1 < groups.length) next = read(b + 1);
      const buf = this.buffer(host.length);
      const a = buf.array.subarray(0, host.length);
      a.set(host);
      await comm.allreduceSum(buf.prefix(host.length));
      for (let i = 0; i < a.length; i++) a[i] *= scale;
      writeGrads(groups[b], a);
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
    for (const h of this.hooks) h.remove();
    this.staging?.free();
    this.staging = null;
  }
}

/** A readback still in flight when a collective fails is awaited by nobody: its rejection must not crash. */
function quietly<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}

/** A bucket's gradients, zeros standing in for parameters without one. */
function readWithZeros(group: readonly Tensor[]): Promise<Float32Array> {
  const stand = group.map((p) => p.grad ?? zeros(p.shape, p.dtype));
  try {
    return readBucket(stand);
  } finally {
    stand.forEach((t, i) => t !== group[i].grad && t.dispose());
  }
}

/** Reduced values into the .grad of the bucket's parameters that have one (the layout is readBucket's). */
function writeGrads(group: readonly Tensor[], values: Float32Array): void {
  if (group.every((p) => p.grad)) {
    writeBucket(group.map((p) => p.grad!), values);
    return;
  }
  let o = 0;
  group.forEach((p) => {
    if (p.grad) writeBucket([p.grad], values.subarray(o, o + p.size));
    o += p.size;
  });
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

