import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SECO_CHECKPOINT_FORMAT } from '@seco/models';
import * as T from '@seco/tensor';
import { PNG } from 'pngjs';
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { CheckpointManager } from '../src/checkpoint/manager.ts';
import { loadConfig } from '../src/config/load.ts';
import { train } from '../src/commands/train.ts';
import { Progress } from '../src/run/progress.ts';
import { RunDir } from '../src/run/run-dir.ts';
import { runTraining } from '../src/train-loop.ts';
import { ToyTrainer } from './support/toy-trainer.ts';

beforeAll(async () => {
  await T.init();
});
const live: ToyTrainer[] = [];
afterEach(() => {
  for (const t of live.splice(0)) t.dispose();
});
const tmp = () => mkdtempSync(join(tmpdir(), 'seco-cli-loop-'));
const sink = () => {
  const lines: string[] = [];
  return { stream: { write: (s: string) => lines.push(s), isTTY: false }, lines };
};
const { config } = loadConfig('demo', ['train.max_iters=10', 'train.warmup_iters=2', 'log.interval=2', 'log.checkpoint_interval=5', 'log.keep_checkpoints=2', 'eval.interval=0', 'loss.weights.cls_aux=0']);

async function fullRun(dir: string, trainer: ToyTrainer, startStep = 0) {
  const run = RunDir.open(dir, { resume: startStep > 0 });
  const out = sink();
  const checkpoints = new CheckpointManager(run.checkpointDir, { keep: config.log.keep_checkpoints });
  const result = await runTraining({ config, run, trainer, checkpoints, progress: new Progress(out.stream, config.train.max_iters), startStep });
  return { run, result, out };
}

describe('training loop', () => {
  test('logs every interval, checkpoints, draws loss.png; plain lines off a TTY', async () => {
    const dir = tmp();
    const t = new ToyTrainer(1);
    live.push(t);
    const { run, result, out } = await fullRun(dir, t);
    expect(result.step).toBe(10);
    const log = await run.readLog();
    expect(log.map((r) => r.iteration)).toEqual([1, 3, 5, 7, 9]);
    for (const r of log) {
      expect(Object.keys(r.losses)).toEqual(['cls', 'ptc']);
      expect(r.total).toBeCloseTo(r.losses.cls * 1 + r.losses.ptc * 0.3, 6);
      expect(r.lr).toBeGreaterThan(0);
      expect(r.it_per_sec).toBeGreaterThan(0);
      expect(Number.isNaN(Date.parse(r.time))).toBe(false);
    }
    expect((await new CheckpointManager(run.checkpointDir, { keep: 2 }).list()).map((c) => c.step)).toEqual([5, 10]);
    expect(out.lines).toHaveLength(5);
    expect(out.lines[0]).toMatch(/^iter 2\/10 \(20%\) cls \d\.\d{4} ptc \d\.\d{4} \| lr \S+ \| \S+ it\/s \| ETA \S+\n$/);
    const png = PNG.sync.read(readFileSync(run.lossPlot));
    expect([png.width, png.height]).toEqual([800, 480]);
  });

  test('a crash after a checkpoint, then resume: the same weights as an uninterrupted run, no duplicate log lines', async () => {
    const whole = new ToyTrainer(1);
    live.push(whole);
    await fullRun(tmp(), whole);

    const dir = tmp();
    const first = new ToyTrainer(1);
    first.crashAt = 7;
    live.push(first);
    await expect(fullRun(dir, first)).rejects.toThrow('simulated crash at iteration 7');
    const second = new ToyTrainer(42);
    live.push(second);
    const resumed = await new CheckpointManager(join(dir, 'checkpoints'), { keep: 2 }).resume(second.state);
    expect(resumed?.step).toBe(5);
    await new RunDir(dir).truncateLog(5);
    const { run } = await fullRun(dir, second, 5);
    expect(await second.snapshot()).toEqual(await whole.snapshot());
    expect((await run.readLog()).map((r) => r.iteration)).toEqual([1, 3, 5, 7, 9]);
  });

  test('a diverging run stops before saving non-finite weights, naming the iteration and the loss term', async () => {
    const dir = tmp();
    // Gaussian inputs and an lr this large overflow the logits within a few steps.
    const t = new ToyTrainer(1, 1e30);
    live.push(t);
    const err = await fullRun(dir, t).then(() => null, (e: Error) => e);
    expect(err?.name).toBe('DivergenceError');
    expect(err?.message).toMatch(/^training diverged at iteration (\d+): the cls loss is not finite \(NaN or Inf\)\./);
    const at = Number(/iteration (\d+)/.exec(err!.message)![1]);
    expect(at).toBeLessThanOrEqual(10);
    expect(err?.message).toContain('--nan-check');
    // Every checkpoint kept was written before the divergence, and holds finite values only.
    const kept = await new CheckpointManager(join(dir, 'checkpoints'), { keep: 2 }).list();
    for (const c of kept) {
      expect(c.step).toBeLessThan(at);
      const ck = await T.loadCheckpoint(c.path, { format: SECO_CHECKPOINT_FORMAT });
      for (const [name, v] of Object.entries(ck.tensors)) expect(Array.from(v.data).every((x) => Number.isFinite(x)), name).toBe(true);
    }
  });

  test('seco train (command level): refuses a used --out without --resume, resumes with it, warns on config change', async () => {
    const dir = tmp();
    const io = () => {
      const out: string[] = [];
      const err: string[] = [];
      return { io: { stdout: { write: (s: string) => out.push(s) } as never, stderr: { write: (s: string) => err.push(s) } as never }, out, err };
    };
    const a = io();
    const mk = (seed: number) => async () => {
      const t = new ToyTrainer(seed);
      live.push(t);
      return t;
    };
    expect(await train({ config, out: dir, resume: false, makeTrainer: mk(1) }, a.io)).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'))).toEqual(config);
    await expect(train({ config, out: dir, resume: false, makeTrainer: mk(1) }, io().io)).rejects.toThrow(`${dir} already holds a run (log.jsonl or checkpoints/); pass --resume`);
    const b = io();
    const longer = { ...config, train: { ...config.train, max_iters: 12 } };
    expect(await train({ config: longer, out: dir, resume: true, makeTrainer: mk(3) }, b.io)).toBe(0);
    expect(b.out.join('')).toContain('resuming from');
    expect(b.err.join('')).toContain('the config differs from the one saved in');
    expect(b.err.join('')).toContain('train.max_iters');
    expect((await new RunDir(dir).readLog()).map((r) => r.iteration)).toEqual([1, 3, 5, 7, 9, 11]);
  });

  test('--resume that finds no checkpoint starts over with a fresh log', async () => {
    const dir = tmp();
    const err: string[] = [];
    const quiet = { stdout: { write: () => true } as never, stderr: { write: (s: string) => err.push(s) } as never };
    // An earlier attempt logged iterations but died before its first checkpoint.
    const short = { ...config, log: { ...config.log, checkpoint_interval: 0 } };
    const first = new ToyTrainer(1);
    first.crashAt = 6;
    live.push(first);
    await expect(train({ config: short, out: dir, resume: false, makeTrainer: async () => first }, quiet)).rejects.toThrow('simulated crash');
    expect((await new RunDir(dir).readLog()).map((r) => r.iteration)).toEqual([1, 3, 5]);
    const second = new ToyTrainer(1);
    live.push(second);
    expect(await train({ config, out: dir, resume: true, makeTrainer: async () => second }, quiet)).toBe(0);
    expect(err.join('')).toContain('no checkpoint in');
    expect((await new RunDir(dir).readLog()).map((r) => r.iteration)).toEqual([1, 3, 5, 7, 9]);
  });

  test('a half-written last log line (crash mid-append) is dropped, earlier lines kept', async () => {
    const dir = tmp();
    const run = RunDir.open(dir, { resume: false });
    writeFileSync(run.logFile, '{"iteration":1,"losses":{},"total":0,"lr":0,"it_per_sec":1,"time":"t","elapsed_s":0}\n{"iteration":3,"los');
    expect((await run.readLog()).map((r) => r.iteration)).toEqual([1]);
  });
});

describe('progress', () => {
  test('TTY: one redrawn bar with terms, lr, it/s and ETA, cut to the terminal width', () => {
    const out: string[] = [];
    const p = new Progress({ write: (s: string) => out.push(s), isTTY: true, columns: 200 }, 100);
    p.update({ iteration: 49, losses: { cls: 0.5, lil: 1e-7 }, lr: 6e-5, itPerSec: 2 });
    expect(out[0]).toBe('\r\x1b[2K[##########..........] 50/100 cls 0.5000 lil 1.00e-7 | lr 6.000e-5 | 2.00 it/s | ETA 25s');
    p.note('validation');
    expect(out.slice(1)).toEqual(['\r\x1b[2K', 'validation\n']);
    const narrow: string[] = [];
    new Progress({ write: (s: string) => narrow.push(s), isTTY: true, columns: 30 }, 100).update({ iteration: 0, losses: { cls: 1 }, lr: 1, itPerSec: 1 });
    expect(narrow[0].length).toBeLessThanOrEqual('\r\x1b[2K'.length + 29);
  });
});
