// A run's checkpoints: one file per saved step (`step-00002000.safetensors`), each written atomically by
// @seco/tensor's saveCheckpoint, the last K kept. Resuming takes the newest file that loads completely and falls
// back, with a warning, past a newest one that is truncated or corrupt (e.g. a disk that filled up mid-write
// with a writer that is not atomic, or a file damaged after the fact).
import { readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { SECO_CHECKPOINT_FORMAT } from '@seco/models';
import { type Checkpoint, type CheckpointInput, type JsonValue, loadCheckpoint, saveCheckpoint } from '@seco/tensor';
import type { TrainState } from './train-state.ts';

export type CheckpointWriter = (path: string, checkpoint: CheckpointInput) => Promise<void>;
export type CheckpointReader = (path: string) => Promise<Checkpoint>;

export interface CheckpointManagerOptions {
  /** How many of the newest checkpoints to keep (older ones are deleted after a successful save). */
  keep: number;
  /** Injectable for tests (failing disks); defaults to the atomic saveCheckpoint. */
  writer?: CheckpointWriter;
  reader?: CheckpointReader;
  warn?: (message: string) => void;
  /** The checkpoint tag of the run's method (WsssMethod.checkpointFormat); default SeCo's. */
  format?: string;
}

export interface CheckpointEntry {
  step: number;
  path: string;
}

export interface Resumed {
  step: number;
  path: string;
  /** The config stored with the checkpoint. */
  config: JsonValue | null;
}

export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

const NAME = /^step-(\d{8,})\.safetensors$/;
/** The atomic writer's temporary file for a checkpoint: `.step-N.safetensors.<pid>.<n>.<random>.tmp`. */
const TEMP = /^\.step-\d{8,}\.safetensors\.(\d+)\.\d+\.[a-z0-9]+\.tmp$/;

/** Whether process `pid` is alive (a save of another live run must not lose its temporary file). */
function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Shortens a long message (e.g. a list of every tensor name) to a readable line. */
function brief(message: string, max = 600): string {
  return message.length <= max ? message : `${message.slice(0, max)}... (${message.length - max} more characters)`;
}

export function checkpointName(step: number): string {
  return `step-${String(step).padStart(8, '0')}.safetensors`;
}

/** The errno code anywhere in an error's cause chain (IoError wraps the fs error). */
function errnoCode(e: unknown): string | undefined {
  for (let cur = e, depth = 0; cur && depth < 8; cur = (cur as { cause?: unknown }).cause, depth++) {
    const code = (cur as NodeJS.ErrnoException).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

export class CheckpointManager {
  private readonly writer: CheckpointWriter;
  private readonly reader: CheckpointReader;
  private readonly warn: (message: string) => void;
  /** The tag written and required: the method's (seco-checkpoint/1 unless the options say otherwise). */
  private readonly format: string;

  constructor(
    readonly dir: string,
    private readonly o: CheckpointManagerOptions,
  ) {
    if (!(Number.isInteger(o.keep) && o.keep >= 1)) throw new CheckpointError(`keep must be an integer >= 1, got ${o.keep}`);
    this.format = o.format ?? SECO_CHECKPOINT_FORMAT;
    this.writer = o.writer ?? saveCheckpoint;
    this.reader = o.reader ?? ((path) => loadCheckpoint(path, { format: this.format }));
    this.warn = o.warn ?? ((m) => console.warn(`warning: ${m}`));
  }

  /** Checkpoint files by step, oldest first (by name; validity is checked only when loading). */
  async list(): Promise<CheckpointEntry[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return [];
      throw e;
    }
    const out: CheckpointEntry[] = [];
    for (const n of names) {
      const m = NAME.exec(n);
      if (m) out.push({ step: Number(m[1]), path: join(this.dir, n) });
    }
    return out.sort((a, b) => a.step - b.step);
  }

  /**
   * Saves `state` as step `step` (the number of iterations done). On failure the new file is removed, nothing
   * is pruned, and the error says whether the disk was full and which checkpoint is still there.
   */
  async save(step: number, state: TrainState, config: JsonValue): Promise<string> {
    const path = join(this.dir, checkpointName(step));
    const before = await this.list();
    const hadFile = before.some((c) => c.path === path);
    try {
      await this.writer(path, { format: this.format, tensors: state.tensors(), step, meta: { state: state.meta(), config } });
    } catch (e) {
      // A non-atomic writer may leave a partial file under the final name; the atomic one never does.
      if (!hadFile) await unlink(path).catch(() => {});
      const previous = before.filter((c) => c.path !== path).at(-1);
      const kept = previous ? `the previous checkpoint ${previous.path} (step ${previous.step}) is intact` : 'no earlier checkpoint exists';
      const code = errnoCode(e);
      const why = code === 'ENOSPC' ? 'the disk is full (ENOSPC); free space or pass a different --out' : (e as Error).message;
      throw new CheckpointError(`saving checkpoint step ${step} to ${path} failed: ${why}; ${kept}`, { cause: e });
    }
    await this.prune();
    return path;
  }

  /** Deletes temporary files that a killed save left behind (their writer is gone). */
  async removeStaleTemps(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return [];
    }
    const removed: string[] = [];
    for (const n of names) {
      const m = TEMP.exec(n);
      if (!m || alive(Number(m[1]))) continue;
      await unlink(join(this.dir, n)).then(() => removed.push(n), () => {});
    }
    return removed;
  }

  private async prune(): Promise<void> {
    const all = await this.list();
    for (const c of all.slice(0, Math.max(0, all.length - this.o.keep))) {
      await unlink(c.path).catch((e) => this.warn(`could not delete old checkpoint ${c.path}: ${(e as Error).message}`));
    }
  }

  /** Loads one checkpoint file fully and checks it is ours and matches its name. */
  async read(entry: CheckpointEntry): Promise<Checkpoint> {
    const ck = await this.reader(entry.path);
    if (ck.step !== entry.step) throw new CheckpointError(`${entry.path}: holds step ${ck.step}, its name says ${entry.step}`);
    const meta = ck.meta as { state?: JsonValue } | null;
    if (!meta || typeof meta !== 'object' || !('state' in meta)) throw new CheckpointError(`${entry.path}: no training state in its metadata`);
    return ck;
  }

  /**
   * Restores the newest checkpoint that loads, into `state`; null when there is none. Unreadable newer files are
   * skipped with a warning naming each (they are left on disk for inspection).
   */
  async resume(state: TrainState): Promise<Resumed | null> {
    await this.removeStaleTemps();
    const all = await this.list();
    for (let i = all.length - 1; i >= 0; i--) {
      const entry = all[i];
      let ck: Checkpoint;
      try {
        ck = await this.read(entry);
      } catch (e) {
        const next = i > 0 ? `falling back to ${all[i - 1].path}` : 'no older checkpoint to fall back to';
        this.warn(`checkpoint ${entry.path} is unreadable (${(e as Error).message}); ${next}`);
        continue;
      }
      const meta = ck.meta as { state: JsonValue; config?: JsonValue };
      try {
        await state.load(ck.tensors, meta.state);
      } catch (e) {
        throw new CheckpointError(`${entry.path} does not fit this run (was it saved with another config?): ${brief((e as Error).message)}`, { cause: e });
      }
      return { step: entry.step, path: entry.path, config: meta.config ?? null };
    }
    if (all.length > 0) throw new CheckpointError(`no readable checkpoint in ${this.dir}: all ${all.length} failed to load (see the warnings above)`);
    return null;
  }
}
