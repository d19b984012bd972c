// MPI_COMM_WORLD as the CLI uses it: rank, size, local rank, and the few collectives data-parallel training and
// sharded evaluation need. Every collective runs on a koffi worker thread (MPI_Init_thread SERIALIZED), one at a
// time in the order they were asked for, so a blocked collective never freezes the event loop that the loader's
// workers and Dawn's callbacks need.
import { type Handle, libmpi, type LibMpi, MPI_IN_PLACE, MPI_THREAD_SERIALIZED } from './libmpi.ts';
import type { MpiBuffer, NativeKind } from './native-buffer.ts';

export interface Communicator {
  readonly rank: number;
  readonly size: number;
  /** This process's index among the ranks on its host (OMPI_COMM_WORLD_LOCAL_RANK). */
  readonly localRank: number;
  /** In place: every rank's buffer becomes the element-wise sum over ranks. */
  allreduceSum(buf: MpiBuffer): Promise<void>;
  allreduceMax(buf: MpiBuffer): Promise<void>;
  /** `out` (size × send.length) receives every rank's `send`, rank-major. */
  allgather(send: MpiBuffer, out: MpiBuffer): Promise<void>;
  /** In place: every rank's buffer becomes root's. */
  broadcast(buf: MpiBuffer, root: number): Promise<void>;
  barrier(): Promise<void>;
  /** Ends every rank of the job (after an error on one: the others would wait forever in their next collective). */
  abort(code: number): void;
  finalize(): void;
}

function check(mpi: LibMpi, what: string, rc: number): void {
  if (rc === 0) return;
  const text = Buffer.alloc(256);
  const len = [0];
  mpi.errorString(rc, text, len);
  throw new Error(`${what} failed: ${text.subarray(0, len[0]).toString('latin1')} (MPI error ${rc})`);
}

export class MpiCommunicator implements Communicator {
  readonly rank: number;
  readonly size: number;
  readonly localRank: number;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly mpi: LibMpi;

  constructor() {
    const mpi = (this.mpi = libmpi());
    const flag = [0];
    check(mpi, 'MPI_Initialized', mpi.initialized(flag));
    if (!flag[0]) {
      const provided = [0];
      check(mpi, 'MPI_Init_thread', mpi.initThread(null, null, MPI_THREAD_SERIALIZED, provided));
      if (provided[0] < MPI_THREAD_SERIALIZED) throw new Error(`${mpi.file} offers thread level ${provided[0]}; the CLI needs MPI_THREAD_SERIALIZED (${MPI_THREAD_SERIALIZED})`);
    }
    const out = [0];
    check(mpi, 'MPI_Comm_rank', mpi.commRank(mpi.commWorld, out));
    this.rank = out[0];
    check(mpi, 'MPI_Comm_size', mpi.commSize(mpi.commWorld, out));
    this.size = out[0];
    this.localRank = Number(process.env.OMPI_COMM_WORLD_LOCAL_RANK ?? this.rank);
  }

  private type(kind: NativeKind): Handle {
    const t = this.mpi.types;
    return { f32: t.float, f64: t.double, i32: t.int, u8: t.byte }[kind];
  }

  /** Runs `call` on a worker thread after every collective asked for before it. */
  private serial(what: string, call: (done: (err: unknown, rc: number) => void) => void): Promise<void> {
    const run = () =>
      new Promise<void>((resolve, reject) =>
        call((err, rc) => {
          if (err) return reject(err instanceof Error ? err : new Error(String(err)));
          try {
            check(this.mpi, what, rc);
            resolve();
          } catch (e) {
            reject(e as Error);
          }
        }),
      );
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => {});
    return next;
  }

  private reduce(buf: MpiBuffer, op: Handle, what: string): Promise<void> {
    return this.serial(what, (done) => this.mpi.allreduce.async(MPI_IN_PLACE, buf.address, buf.length, this.type(buf.kind), op, this.mpi.commWorld, done));
  }

  allreduceSum(buf: MpiBuffer): Promise<void> {
    return this.reduce(buf, this.mpi.ops.sum, 'MPI_Allreduce(SUM)');
  }

  allreduceMax(buf: MpiBuffer): Promise<void> {
    return this.reduce(buf, this.mpi.ops.max, 'MPI_Allreduce(MAX)');
  }

  allgather(send: MpiBuffer, out: MpiBuffer): Promise<void> {
    if (send.kind !== out.kind || out.length !== send.length * this.size) {
      throw new Error(`allgather: needs an output of ${this.size} × ${send.length} ${send.kind}, got ${out.length} ${out.kind}`);
    }
    const t = this.type(send.kind);
    return this.serial('MPI_Allgather', (done) => this.mpi.allgather.async(send.address, send.length, t, out.address, send.length, t, this.mpi.commWorld, done));
  }

  broadcast(buf: MpiBuffer, root: number): Promise<void> {
    return this.serial('MPI_Bcast', (done) => this.mpi.bcast.async(buf.address, buf.length, this.type(buf.kind), root, this.mpi.commWorld, done));
  }

  barrier(): Promise<void> {
    return this.serial('MPI_Barrier', (done) => this.mpi.barrier.async(this.mpi.commWorld, done));
  }

  abort(code: number): void {
    this.mpi.abort(this.mpi.commWorld, code);
  }

  finalize(): void {
    const flag = [0];
    this.mpi.finalized(flag);
    if (!flag[0]) this.mpi.finalize();
  }
}
