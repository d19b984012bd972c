// seco train on a device budget too small for the run: exit code 1 and one message (no stack) naming where it
// ran out, the tensor asked for and its bytes, the bytes available, the largest live tensors and what to lower;
// no checkpoint in the output folder.
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as T from '@seco/tensor';
import { afterEach, describe, expect, test } from 'vitest';
import { train } from '../src/commands/train.ts';
import { loadConfig } from '../src/config/load.ts';
import { main } from '../src/main.ts';
import { secoOptimizer } from '../src/trainer/optimizer.ts';
import { createSecoTrainer, networkFromConfig } from '../src/trainer/seco-trainer.ts';
import { TrainingMemoryError } from '../src/train-memory.ts';
import { TINY } from './support/tiny-config.ts';
import { VOC_SAMPLE_SETS } from './support/voc-sample.ts';

const sets = [...VOC_SAMPLE_SETS, ...TINY];
const tmp = () => mkdtempSync(join(tmpdir(), 'seco-cli-oom-'));
const checkpoints = (out: string) => (existsSync(join(out, 'checkpoints')) ? readdirSync(join(out, 'checkpoints')) : []);
const quiet = () => {
  const err: string[] = [];
  return { io: { stdout: { write: () => true, isTTY: false } as never, stderr: { write: (s: string) => err.push(s) } as never }, err };
};

afterEach(() => {
  delete process.env.SECO_MEMORY_BUDGET;
  if (T.hasEngine()) T.engine().setMemoryBudget(null);
});

describe('seco train that cannot fit the memory budget', () => {
  test('SECO_MEMORY_BUDGET too small for the model: exit 1, one clear message, no checkpoint', async () => {
    // Read when the engine starts, as a user sets it; this file's first test starts it.
    expect(T.hasEngine()).toBe(false);
    process.env.SECO_MEMORY_BUDGET = '64KiB';
    const out = join(tmp(), 'run');
    const c = quiet();
    expect(await main(['train', '--config', 'demo', ...sets.flatMap((s) => ['--set', s]), '--out', out], c.io)).toBe(1);
    const msg = c.err.join('');
    expect(msg.trim().split('\n')).toHaveLength(1);
    expect(msg).toMatch(
      /^seco: out of GPU memory while setting up training \(model and optimizer state\), before iteration 1; no checkpoint was written\. \S+: out of GPU memory: a tensor of shape \[[\d, ]+\] \(f32\) needs \d+ bytes.*; \d+ bytes.* is held by live tensors and the budget is 65536 bytes \(64\.00 KiB\) \(from SECO_MEMORY_BUDGET\), \d+ bytes.* available\. Largest live tensors: .*To fit, use a smaller model \(model\.embed_dim 32, model\.depth 2\), or raise SECO_MEMORY_BUDGET above 65536 bytes/,
    );
    expect(msg).not.toMatch(/\n\s+at /);
    expect(checkpoints(out)).toEqual([]);
  });

  test('out of budget in iteration 1: the message says so and nothing was saved', async () => {
    const { config } = loadConfig('demo', sets);
    const out = join(tmp(), 'run');
    // The model and its state fit; iteration 1's activations (the 2×3×32×32 images alone are 24 KiB) do not.
    const makeTrainer = async (c: typeof config) => {
      await T.init();
      const t = await createSecoTrainer(c);
      T.engine().setMemoryBudget(T.engine().stats().liveBytes + 16 * 1024);
      return t;
    };
    const err = await train({ config, out, resume: false, makeTrainer }, quiet().io).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(TrainingMemoryError);
    expect((err as Error).message).toMatch(
      /^out of GPU memory in iteration 1, before anything was saved; no checkpoint was written\. \S+: out of GPU memory: a tensor of shape \[[\d, ]+\] \(\w+\) needs \d+ bytes.* available\. Largest live tensors: .*To fit, lower train\.batch_size \(now 2\) or train\.crop_size \(now 32\)/,
    );
    expect(checkpoints(out)).toEqual([]);
  });

  test('gradients and AdamW moments that cannot fit are refused up front, before data loads', async () => {
    const { config } = loadConfig('demo', sets);
    await T.init();
    const e = T.engine();
    e.pool.trim();
    const base = e.stats().liveBytes;
    const probe = networkFromConfig(config);
    const modelBytes = e.stats().liveBytes - base;
    const trainableBytes = 4 * secoOptimizer(probe, config).parameters.reduce((n, p) => n + p.size, 0);
    probe.dispose();
    // Room for the model and half the training state it needs (a gradient and two moments per parameter).
    e.setMemoryBudget(base + modelBytes + Math.floor(1.5 * trainableBytes));
    const out = join(tmp(), 'run');
    const err = await train({ config, out, resume: false, makeTrainer: (c) => createSecoTrainer(c) }, quiet().io).then(() => null, (x: unknown) => x);
    expect(err).toBeInstanceOf(TrainingMemoryError);
    expect((err as Error).message).toContain(
      `out of GPU memory while setting up training (model and optimizer state), before iteration 1; no checkpoint was written. optimizer state: out of GPU memory: the training state (gradients and AdamW moments of ${(trainableBytes / 4e6).toFixed(2)}M parameters) needs ${3 * trainableBytes} bytes`,
    );
    expect(checkpoints(out)).toEqual([]);
  });
});
