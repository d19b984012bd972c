// seco train: config → run folder → (resume) → the generic loop around the config method's trainer
// (trainer/seco-trainer.ts).
import { methodOf } from '@seco/models';
import { engine, GpuMemoryError, hasEngine, init, type NonFiniteOp } from '@seco/tensor';
import type { FlagValues } from '../args.ts';
import { CheckpointManager } from '../checkpoint/manager.ts';
import { loadConfig } from '../config/load.ts';
import type { SecoConfig } from '../config/schema.ts';
import { Progress } from '../run/progress.ts';
import { RunDir } from '../run/run-dir.ts';
import { trainingMemoryError } from '../train-memory.ts';
import { runTraining, type Trainer } from '../train-loop.ts';
import { createSecoTrainer } from '../trainer/seco-trainer.ts';
import type { Communicator } from '../distributed/communicator.ts';
import { startEngine } from '../distributed/start-engine.ts';
import { followerIO, rankDir, ReadOnlyCheckpoints } from '../distributed/follower-run.ts';
import { type CommandIO, warner } from './io.ts';

/** Key paths whose values differ between two configs (for the resume warning). */
export function configDiff(a: unknown, b: unknown, path = ''): string[] {
  if (typeof a === 'object' && a && typeof b === 'object' && b && !Array.isArray(a) && !Array.isArray(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].flatMap((k) => configDiff((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], path ? `${path}.${k}` : k));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [path];
}

function describeOp(op: NonFiniteOp | null): string | null {
  return op ? `${op.op} [${op.shape.join(', ')}]` : null;
}

export interface TrainSetup {
  config: SecoConfig;
  out: string;
  resume: boolean;
  /** Builds the trainer; the default is the config method's (trainer/seco-trainer.ts). */
  makeTrainer?: (config: SecoConfig) => Promise<Trainer>;
  /** Data parallelism over mpirun's ranks: rank 0 writes the run, the others their log in OUT/rank-R/. */
  world?: Communicator | null;
  /** Under `world`: compare the ranks' weights every this many iterations (and at the end). */
  checkWeightsEvery?: number;
  /** Under `world`: the gradient bucket size in MiB (25, as DDP's bucket_cap_mb, when absent). */
  bucketMb?: number;
}

export async function train(s: TrainSetup, commandIO: CommandIO): Promise<number> {
  const world = s.world ?? null;
  const leader = !world || world.rank === 0;
  const io = leader ? commandIO : followerIO(commandIO);
  const warn = warner(io);
  const parallel = world ? { world, checkEvery: s.checkWeightsEvery ?? 100, bucketMb: s.bucketMb } : null;
  const makeTrainer = s.makeTrainer ?? (async (c: SecoConfig) => (await init(), createSecoTrainer(c, parallel)));
  const run = RunDir.open(leader ? s.out : rankDir(s.out, world!.rank), { resume: s.resume });
  const trainer = await makeTrainer(s.config).catch((e: unknown) => {
    throw e instanceof GpuMemoryError ? trainingMemoryError(e, { phase: 'setup' }, s.config) : e;
  });
  if (trainer.startup) io.stdout.write(`${trainer.startup}\n`);
  const keep = { keep: s.config.log.keep_checkpoints, warn, format: methodOf(s.config).checkpointFormat };
  const checkpoints = leader ? new CheckpointManager(run.checkpointDir, keep) : new ReadOnlyCheckpoints(new RunDir(s.out).checkpointDir, keep);
  let start = 0;
  if (s.resume) {
    const r = await checkpoints.resume(trainer.state);
    if (r) {
      const diff = configDiff(r.config, s.config);
      if (diff.length) warn(`the config differs from the one saved in ${r.path} at: ${diff.slice(0, 8).join(', ')}${diff.length > 8 ? ', ...' : ''}`);
      start = r.step;
      await run.truncateLog(start);
      io.stdout.write(`resuming from ${r.path} (iteration ${start})\n`);
    } else {
      warn(`--resume: no checkpoint in ${run.checkpointDir}, starting from iteration 0`);
      // Log lines of the earlier attempt describe iterations that are about to run again.
      await run.truncateLog(0);
    }
  }
  await run.writeConfig(s.config);
  const progress = new Progress(io.stdout, s.config.train.max_iters);
  const nanCheck = s.config.debug.nan_check && hasEngine();
  if (nanCheck) engine().setNanCheck(true);
  const firstBadOp = nanCheck ? async () => describeOp(await engine().firstNonFiniteOp()) : undefined;
  // Validation runs on rank 0 only; the others wait for it in their next collective.
  const ranked = leader ? trainer : { ...trainer, validate: undefined };
  const result = await runTraining({ config: s.config, run, trainer: ranked, checkpoints, progress, startStep: start, firstBadOp })
    .finally(() => (nanCheck && engine().setNanCheck(false), trainer.close?.()));
  io.stdout.write(`done: ${result.step} iterations; checkpoint ${result.lastCheckpoint ?? '(none)'}; log ${run.logFile}; curves ${run.lossPlot}\n`);
  return 0;
}

/** `--set` overrides, with --nan-check as debug.nan_check=true. */
export function overrides(flags: FlagValues, extra: string[] = []): string[] {
  return [...extra, ...((flags.set as string[] | undefined) ?? []), ...(flags['nan-check'] === true ? ['debug.nan_check=true'] : [])];
}

/** The data-parallel settings among the flags of seco train and seco demo. */
export function parallelFlags(flags: FlagValues): Pick<TrainSetup, 'checkWeightsEvery' | 'bucketMb'> {
  return { checkWeightsEvery: flags['check-weights'] as number | undefined, bucketMb: flags['bucket-mb'] as number | undefined };
}

export async function trainCommand(flags: FlagValues, io: CommandIO): Promise<number> {
  const { config } = loadConfig(flags.config as string, overrides(flags));
  const world = await startEngine(io);
  return train({ config, out: flags.out as string, resume: flags.resume === true, world, ...parallelFlags(flags) }, io);
}
