// The training loop, independent of SeCo's internals: it asks a Trainer for one step at a time with that
// iteration's schedule, and owns logging, progress, periodic validation, checkpoints and the loss picture.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GpuMemoryError } from '@seco/tensor';
import type { StepPoint } from '@seco/models';
import type { CheckpointManager } from './checkpoint/manager.ts';
import type { TrainState } from './checkpoint/train-state.ts';
import type { SecoConfig } from './config/schema.ts';
import { plotLosses, type Series } from './run/loss-plot.ts';
import type { Progress } from './run/progress.ts';
import type { LogRecord, RunDir } from './run/run-dir.ts';
import { schedulePoint, totalLoss } from './schedule.ts';
import { trainingMemoryError } from './train-memory.ts';

export interface Trainer {
  readonly state: TrainState;
  /**
   * Runs iteration `iteration` (0-based) with its loss weights and switches. Returns the unweighted loss terms when
   * `read` is true, else null: reading scalars back from the GPU waits for the step, so it is done only to log.
   */
  step(iteration: number, point: StepPoint, read: boolean): Promise<Record<string, number> | null>;
  /** The backbone lr the last step used, as the optimizer set it (logged; the optimizer is its one source). */
  learningRate(): number;
  /** In-training validation, e.g. { cam_miou, seg_miou }. */
  validate?(iteration: number): Promise<Record<string, number>>;
  /** Releases loader workers and GPU memory once training is over. */
  close?(): Promise<void>;
  /** A line about the start (e.g. pipelines precompiled), printed before the first iteration. */
  readonly startup?: string;
  /** Lines to show since the last call (e.g. what tuning after the first iteration chose); asked after each step. */
  notes?(): string[];
  /**
   * The first iteration and loss term that went non-finite since the last call, or null; the trainer watches
   * its losses on the GPU each step, and this reads the watch back (a few bytes, so only at log and save steps).
   */
  divergence?(): Promise<{ iteration: number; term: string; message?: string } | null>;
  /** Extra figures for a log record (e.g. a mixed-precision run's loss scale and skipped steps), read at log steps. */
  logExtras?(): Promise<Record<string, number>>;
}

/** Training stopped because a loss went non-finite; the message says where and what to do. */
export class DivergenceError extends Error {
  override name = 'DivergenceError';
}

function divergenceMessage(iteration: number, term: string, lastCheckpoint: string | null, detail: string, what?: string): string {
  return [
    `training diverged at iteration ${iteration + 1}: ${what ?? `the ${term} loss is not finite (NaN or Inf)`}${detail}.`,
    lastCheckpoint
      ? `The last good checkpoint is ${lastCheckpoint}; --resume continues from it.`
      : 'No checkpoint was written before it, so nothing non-finite was saved.',
    'Lower train.lr, or rerun with --nan-check to name the first op that produced a NaN or Inf.',
  ].join(' ');
}

export interface TrainLoopOptions {
  config: SecoConfig;
  /** Names the first op that produced a NaN or Inf, when the NaN finder is on (--nan-check). */
  firstBadOp?: () => Promise<string | null>;
  run: RunDir;
  trainer: Trainer;
  checkpoints: CheckpointManager;
  progress: Progress;
  /** Iterations already done (from a resumed checkpoint). */
  startStep: number;
  now?: () => number;
}

export interface TrainLoopResult {
  /** Iterations done when the loop ended. */
  step: number;
  lastCheckpoint: string | null;
}

export async function runTraining(o: TrainLoopOptions): Promise<TrainLoopResult> {
  const { config, run, trainer, checkpoints, progress } = o;
  const now = o.now ?? (() => performance.now() / 1000);
  const max = config.train.max_iters;
  const t0 = now();
  let lastLogT = t0;
  let lastLogIt = o.startStep;
  let lastCheckpoint: string | null = null;
  let savedAt = o.startStep;
  // Stops at the first non-finite loss: before a checkpoint is written, so a saved state is always finite.
  const checkFinite = async (losses: Record<string, number> | null, it: number) => {
    const bad = losses && Object.entries(losses).find(([, v]) => !Number.isFinite(v));
    const found: { iteration: number; term: string; message?: string } | null = (await trainer.divergence?.()) ?? (bad ? { iteration: it, term: bad[0] } : null);
    if (!found) return;
    const op = await o.firstBadOp?.();
    throw new DivergenceError(divergenceMessage(found.iteration, found.term, lastCheckpoint, op ? `; the first op that produced one: ${op}` : '', found.message));
  };
  const save = async (step: number) => {
    await checkFinite(null, step - 1);
    lastCheckpoint = await checkpoints.save(step, trainer.state, config as never);
    savedAt = step;
  };
  let it = o.startStep;
  try {
    for (; it < max; it++) {
      const point = schedulePoint(config, it);
      const done = it + 1;
      const read = done % config.log.interval === 0 || done === max;
      const losses = await trainer.step(it, point, read);
      for (const line of trainer.notes?.() ?? []) progress.note(line);
      if (read) {
        if (!losses) throw new Error(`trainer returned no losses at iteration ${it} although they were asked for`);
        await checkFinite(losses, it);
        const t = now();
        const itPerSec = (done - lastLogIt) / Math.max(t - lastLogT, 1e-9);
        [lastLogT, lastLogIt] = [t, done];
        const record: LogRecord = {
          iteration: it,
          losses,
          total: totalLoss(losses, point.weights),
          lr: trainer.learningRate(),
          it_per_sec: itPerSec,
          time: new Date().toISOString(),
          elapsed_s: t - t0,
          ...(await trainer.logExtras?.()),
        };
        await run.appendLog(record);
        progress.update({ iteration: it, losses, lr: trainer.learningRate(), itPerSec });
      }
      const ci = config.log.checkpoint_interval;
      if (ci > 0 && done % ci === 0) await save(done);
      const vi = config.eval.interval;
      if (trainer.validate && vi > 0 && done % vi === 0) {
        const scores = await trainer.validate(it);
        progress.note(`validation at iteration ${done}: ${Object.entries(scores).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(' ')}`);
        await writeFile(join(run.dir, 'val.jsonl'), `${JSON.stringify({ iteration: it, ...scores })}\n`, { flag: 'a' });
      }
    }
    if (savedAt !== max) await save(max);
  } catch (e) {
    // `it` is the iteration that was running (0-based); the message counts from 1, as the progress line does.
    throw e instanceof GpuMemoryError ? trainingMemoryError(e, { phase: 'iteration', iteration: it + 1, lastCheckpoint }, config) : e;
  } finally {
    progress.finish();
    await writeLossPlot(run).catch((e) => progress.note(`could not draw ${run.lossPlot}: ${(e as Error).message}`));
  }
  return { step: it, lastCheckpoint };
}

/** loss.png from log.jsonl: one line per loss term and one for the weighted total. */
export async function writeLossPlot(run: RunDir): Promise<void> {
  const log = await run.readLog();
  const names = [...new Set(log.flatMap((r) => Object.keys(r.losses)))];
  const series: Series[] = names.map((n) => ({ name: n, points: log.map((r) => [r.iteration + 1, r.losses[n] ?? NaN]) }));
  series.push({ name: 'total', points: log.map((r) => [r.iteration + 1, r.total]) });
  await writeFile(run.lossPlot, plotLosses(series, { title: 'training loss' }).toPng());
}
