import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSynthetic } from '@seco/data';
import * as T from '@seco/tensor';
import { beforeAll, describe, expect, test } from 'vitest';
import { train } from '../src/commands/train.ts';
import { syntheticPaths } from '../src/commands/demo.ts';
import { loadConfig } from '../src/config/load.ts';
import type { SecoConfig } from '../src/config/schema.ts';
import { RunDir } from '../src/run/run-dir.ts';
import { createSecoTrainer } from '../src/trainer/seco-trainer.ts';
import type { Trainer } from '../src/train-loop.ts';
import { TINY } from './support/tiny-config.ts';


const tmp = () => mkdtempSync(join(tmpdir(), 'seco-trainer-'));
const quiet = () => ({ stdout: { write: () => true, isTTY: false } as never, stderr: { write: () => true } as never });

function tinyConfig(dataDir: string): SecoConfig {
  return loadConfig('demo', [...syntheticPaths(dataDir), ...TINY]).config;
}

let data: string;
beforeAll(async () => {
  await T.init();
  data = tmp();
  generateSynthetic({ outDir: join(data, 'synthetic'), count: 24, size: 32, numClasses: 5, seed: 0 });
});

/** The SeCo trainer, failing at `crashAt` (after the checkpoint of the iteration before). */
const crashing = (crashAt: number) => async (c: SecoConfig): Promise<Trainer> => {
  const t = await createSecoTrainer(c);
  return { ...t, state: t.state, close: t.close, step: (it, p, r) => (it === crashAt ? Promise.reject(new Error(`crash at ${it}`)) : t.step(it, p, r)) };
};

describe('SeCo trainer through seco train', () => {
  test('losses after --resume equal those of an uninterrupted run, iteration by iteration', async () => {
    // eval.interval=6: one §5 validation pass at the end (reads only; the resumed run must match anyway).
    const config = { ...tinyConfig(data), eval: { ...tinyConfig(data).eval, interval: 6 } };
    const whole = tmp();
    expect(await train({ config, out: whole, resume: false }, quiet())).toBe(0);
    const ref = await RunDir.open(whole, { resume: true }).readLog();
    expect(ref.map((r) => r.iteration)).toEqual([0, 1, 2, 3, 4, 5]);
    // Every term finite; LIL/LIG may be 0 in an iteration without positive tags, but not in all of them.
    for (const r of ref) for (const [k, v] of Object.entries(r.losses)) expect(Number.isFinite(v), `${k} = ${v} at ${r.iteration}`).toBe(true);
    for (const r of ref.slice(2)) for (const k of ['cls', 'cls_aux', 'ptc', 'seg', 'reg']) expect(r.losses[k], `${k} at ${r.iteration}`).not.toBe(0);
    for (const k of ['lil', 'lig']) expect(ref.slice(2).some((r) => r.losses[k] !== 0), k).toBe(true);

    const val = JSON.parse(readFileSync(join(whole, 'val.jsonl'), 'utf8')) as Record<string, number>;
    for (const k of ['cam_miou', 'aux_cam_miou', 'seg_miou']) expect(val[k], k).toBeGreaterThan(0);
    for (const k of ['cam_miou', 'aux_cam_miou', 'seg_miou']) expect(val[k], k).toBeLessThanOrEqual(1);

    const cut = tmp();
    await expect(train({ config, out: cut, resume: false, makeTrainer: crashing(4) }, quiet())).rejects.toThrow('crash at 4');
    expect(await train({ config, out: cut, resume: true }, quiet())).toBe(0);
    const got = await RunDir.open(cut, { resume: true }).readLog();
    expect(got.map((r) => r.iteration)).toEqual([0, 1, 2, 3, 4, 5]);
    for (let i = 0; i < 6; i++) expect(got[i].losses, `iteration ${i}`).toEqual(ref[i].losses);
  }, 120_000);

  test('train.autotune=on tunes tiles on the first iteration and changes no loss', async () => {
    const base = tinyConfig(data);
    const run = async (autotune: 'on' | 'off') => {
      const out = tmp();
      const lines: string[] = [];
      const io = { stdout: { write: (s: string) => lines.push(s), isTTY: false } as never, stderr: { write: () => true } as never };
      expect(await train({ config: { ...base, train: { ...base.train, autotune } }, out, resume: false }, io)).toBe(0);
      return { log: await RunDir.open(out, { resume: true }).readLog(), text: lines.join('') };
    };
    const off = await run('off');
    // Nothing tuned yet in this process for these shapes (the first test ran with 'auto', off on lavapipe).
    const on = await run('on');
    expect(on.text).toMatch(/matmul tiles tuned for \d+ shape classes/);
    expect(off.text).not.toMatch(/matmul tiles/);
    // Tiles change the work split, never the order of a sum: the same losses, bit for bit.
    expect(on.log.map((r) => r.losses)).toEqual(off.log.map((r) => r.losses));
  }, 240_000);

  test('model.grad_checkpointing=true trains to the same losses, bit for bit (the blocks rerun the same kernels)', async () => {
    const base = tinyConfig(data);
    const run = async (grad_checkpointing: boolean) => {
      const out = tmp();
      expect(await train({ config: { ...base, model: { ...base.model, grad_checkpointing } }, out, resume: false }, quiet())).toBe(0);
      return (await RunDir.open(out, { resume: true }).readLog()).map((r) => r.losses);
    };
    const plain = await run(false);
    const ckpt = await run(true);
    expect(plain.length).toBe(base.train.max_iters);
    expect(ckpt).toEqual(plain);
  }, 240_000);
});
