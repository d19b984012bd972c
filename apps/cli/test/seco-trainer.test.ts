import { mkdtempSync } from 'node:fs';
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
import { createTrainer } from '../src/model-bridge.ts';
import type { Trainer } from '../src/train-loop.ts';

// The demo config at test size: 32-px crops, 8-px patches, a 2-block ViT, 2 local crops, every loss on by
// iteration 2 (prototypes from 1), checkpoints every 3 iterations.
export const TINY = [
  'train.max_iters=6', 'train.warmup_iters=2', 'train.batch_size=2', 'train.crop_size=32', 'train.local_crop_size=16', 'train.ncrops=4',
  'model.patch_size=8', 'model.embed_dim=32', 'model.depth=2', 'model.num_heads=2', 'model.aux_layer=-1', 'model.proj_hidden_dim=64', 'model.proj_out_dim=32',
  'seco.queue_size=16', 'seco.update_prototype=1', 'seco.cam2mask=4', 'cam.scales=[1,0.5]', 'data.workers=0',
  'loss.start.lil=2', 'loss.start.lig=2', 'loss.start.seg=2', 'loss.start.reg=2',
  'eval.interval=0', 'eval.size=32', 'eval.scales=[1]', 'log.interval=1', 'log.checkpoint_interval=3', 'log.keep_checkpoints=2',
];

const tmp = () => mkdtempSync(join(tmpdir(), 'seco-trainer-'));
const quiet = () => ({ stdout: { write: () => true, isTTY: false } as never, stderr: { write: () => true } as never });

export function tinyConfig(dataDir: string, extra: string[] = []): SecoConfig {
  return loadConfig('demo', [...syntheticPaths(dataDir), ...TINY, ...extra]).config;
}

let data: string;
beforeAll(async () => {
  await T.init();
  data = tmp();
  generateSynthetic({ outDir: join(data, 'synthetic'), count: 24, size: 32, numClasses: 5, seed: 0 });
});

/** The SeCo trainer, failing at `crashAt` (after the checkpoint of the iteration before). */
const crashing = (crashAt: number) => async (c: SecoConfig): Promise<Trainer> => {
  const t = await createTrainer(c);
  return { ...t, state: t.state, close: t.close, step: (it, p, r) => (it === crashAt ? Promise.reject(new Error(`crash at ${it}`)) : t.step(it, p, r)) };
};

describe('SeCo trainer through seco train', () => {
  test('losses after --resume equal those of an uninterrupted run, iteration by iteration', async () => {
    const config = tinyConfig(data);
    const whole = tmp();
    expect(await train({ config, out: whole, resume: false }, quiet())).toBe(0);
    const ref = await RunDir.open(whole, { resume: true }).readLog();
    expect(ref.map((r) => r.iteration)).toEqual([0, 1, 2, 3, 4, 5]);
    for (const r of ref.slice(2)) for (const [k, v] of Object.entries(r.losses)) expect(Number.isFinite(v) && (k === 'reg' || v !== 0), `${k} = ${v} at ${r.iteration}`).toBe(true);

    const cut = tmp();
    await expect(train({ config, out: cut, resume: false, makeTrainer: crashing(4) }, quiet())).rejects.toThrow('crash at 4');
    expect(await train({ config, out: cut, resume: true }, quiet())).toBe(0);
    const got = await RunDir.open(cut, { resume: true }).readLog();
    expect(got.map((r) => r.iteration)).toEqual([0, 1, 2, 3, 4, 5]);
    for (let i = 0; i < 6; i++) expect(got[i].losses, `iteration ${i}`).toEqual(ref[i].losses);
  }, 120_000);
});
