// seco train with train.precision 'mixed': f16 student, loss scaling, scaler state in checkpoints, exact resume,
// skipped steps in the log, a precision mismatch on resume refused, and a collapsed scale stopping the run.
import { mkdtempSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSynthetic } from '@seco/data';
import { SECO_CHECKPOINT_FORMAT, TOCO_CHECKPOINT_FORMAT } from '@seco/models';
import * as T from '@seco/tensor';
import { beforeAll, describe, expect, test } from 'vitest';
import { CheckpointManager } from '../src/checkpoint/manager.ts';
import { train } from '../src/commands/train.ts';
import { syntheticPaths } from '../src/commands/demo.ts';
import { loadConfig } from '../src/config/load.ts';
import type { SecoConfig } from '../src/config/schema.ts';
import { RunDir } from '../src/run/run-dir.ts';
import { MIN_LOSS_SCALE, SCALER_KEY, scaleCollapse } from '../src/trainer/mixed-precision.ts';
import { createSecoTrainer } from '../src/trainer/seco-trainer.ts';
import type { Trainer } from '../src/train-loop.ts';
import { TINY, TINY_TOCO } from './support/tiny-config.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'seco-mixed-'));
const quiet = () => ({ stdout: { write: () => true, isTTY: false } as never, stderr: { write: () => true } as never });

let data: string;
let mixed: SecoConfig;
beforeAll(async () => {
  await T.init();
  data = tmp();
  generateSynthetic({ outDir: join(data, 'synthetic'), count: 24, size: 32, numClasses: 5, seed: 0 });
  // eval.interval=6: one in-training validation of the f16 student at the end (reads only).
  mixed = loadConfig('demo', [...syntheticPaths(data), ...TINY, 'train.precision=mixed', 'eval.interval=6']).config;
});

/** The SeCo trainer, failing at `crashAt` (after the checkpoint of the iteration before). */
const crashing = (crashAt: number) => async (c: SecoConfig): Promise<Trainer> => {
  const t = await createSecoTrainer(c);
  return { ...t, state: t.state, close: t.close, step: (it, p, r) => (it === crashAt ? Promise.reject(new Error(`crash at ${it}`)) : t.step(it, p, r)) };
};

describe('seco train with train.precision mixed', () => {
  test('the default loss scale overflows at first: steps are skipped and logged, not stopped; --resume is bit-identical', async () => {
    const whole = tmp();
    expect(await train({ config: mixed, out: whole, resume: false }, quiet())).toBe(0);
    const ref = await RunDir.open(whole, { resume: true }).readLog();
    expect(ref.map((r) => r.iteration)).toEqual([0, 1, 2, 3, 4, 5]);
    for (const r of ref) for (const [k, v] of Object.entries(r.losses)) expect(Number.isFinite(v), `${k} = ${v} at ${r.iteration}`).toBe(true);
    // Once LIL/LIG start (iteration 2), 2^16 times this tiny network's projection-head gradients overflows f16
    // (as in packages/models' mixed step test): the scale halves on each skipped step (no growth within 2,000
    // clean steps), each record says how many were skipped so far, and the run goes on.
    expect(ref.at(-1)!.skipped_steps).toBeGreaterThan(0);
    for (const r of ref) expect(r.loss_scale! * 2 ** r.skipped_steps!, `iteration ${r.iteration}`).toBe(2 ** 16);

    const val = JSON.parse(readFileSync(join(whole, 'val.jsonl'), 'utf8')) as Record<string, number>;
    for (const k of ['cam_miou', 'aux_cam_miou', 'seg_miou']) expect(val[k], k).toBeGreaterThan(0);
    for (const k of ['cam_miou', 'aux_cam_miou', 'seg_miou']) expect(val[k], k).toBeLessThanOrEqual(1);

    const ckpt = (await new CheckpointManager(join(whole, 'checkpoints'), { keep: 2 }).list()).at(-1)!;
    const saved = (await T.loadCheckpoint(ckpt.path, { format: SECO_CHECKPOINT_FORMAT })).tensors;
    expect([...saved[SCALER_KEY].data]).toEqual([ref[5].loss_scale, 0, expect.any(Number), ref[5].skipped_steps]);
    // The student is saved as its f32 masters (eval reads them, not their f16 rounding): the very values of a master.
    const student = saved['model.encoder.patch_embed.proj.weight'];
    expect(student.dtype).toBe('F32');
    const same = (a: ArrayLike<number | bigint>, b: ArrayLike<number | bigint>) => a.length === b.length && Array.from(a).every((v, i) => v === b[i]);
    expect(Object.entries(saved).some(([k, t]) => /^optim\.state\.\d+\.master$/.test(k) && same(t.data, student.data))).toBe(true);
    expect(saved['model.encoder_k.patch_embed.proj.weight'].dtype).toBe('F32');
    expect(Object.keys(saved).some((k) => /^optim\.state\.\d+\.master$/.test(k))).toBe(true);

    const cut = tmp();
    await expect(train({ config: mixed, out: cut, resume: false, makeTrainer: crashing(4) }, quiet())).rejects.toThrow('crash at 4');
    expect(await train({ config: mixed, out: cut, resume: true }, quiet())).toBe(0);
    const got = await RunDir.open(cut, { resume: true }).readLog();
    expect(got.map((r) => r.iteration)).toEqual([0, 1, 2, 3, 4, 5]);
    for (let i = 0; i < 6; i++) {
      expect(got[i].losses, `iteration ${i}`).toEqual(ref[i].losses);
      expect([got[i].loss_scale, got[i].skipped_steps], `iteration ${i}`).toEqual([ref[i].loss_scale, ref[i].skipped_steps]);
    }
    // And the final state, tensor by tensor: student (as masters), f32 masters, moments, teachers, queue, scaler.
    const resumed = (await T.loadCheckpoint((await new CheckpointManager(join(cut, 'checkpoints'), { keep: 2 }).list()).at(-1)!.path, { format: SECO_CHECKPOINT_FORMAT })).tensors;
    expect(Object.keys(resumed).sort()).toEqual(Object.keys(saved).sort());
    for (const [k, t] of Object.entries(saved)) expect(resumed[k].data, k).toEqual(t.data);

    // The checkpoint's optimizer state fits one precision only: resuming it in f32 is refused, naming both.
    const f32 = { ...mixed, train: { ...mixed.train, precision: 'f32' as const } };
    await expect(train({ config: f32, out: cut, resume: true }, quiet())).rejects.toThrow(
      "the checkpoint was written with train.precision 'mixed' and this run is 'f32'; resume with train.precision=mixed",
    );
  }, 240_000);

  test('a scale below the floor stops the run with a message naming the scale and the skipped steps', async () => {
    const scaler = new T.GradScaler();
    expect(await scaleCollapse(scaler)).toBeNull();
    scaler.loadStateDict({ scale: MIN_LOSS_SCALE, skipped_steps: 24 });
    expect(await scaleCollapse(scaler)).toBeNull();
    scaler.loadStateDict({ scale: MIN_LOSS_SCALE / 2, skipped_steps: 25 });
    expect(await scaleCollapse(scaler)).toBe(
      `the loss scale fell to ${MIN_LOSS_SCALE / 2} (below ${MIN_LOSS_SCALE}) after 25 skipped steps: the gradients overflow or are NaN at every scale, which loss scaling cannot fix`,
    );
    scaler.dispose();
  });

  test('through seco train: resumed with a collapsed scale, the run stops at its first log step, naming the scale', async () => {
    const out = tmp();
    expect(await train({ config: mixed, out, resume: false }, quiet())).toBe(0);
    // The step-3 checkpoint with its scaler state replaced by a collapsed one; the newer one removed.
    const cm = new CheckpointManager(join(out, 'checkpoints'), { keep: 2 });
    const entries = await cm.list();
    expect(entries.map((e) => e.step)).toEqual([3, 6]);
    await rm(entries[1].path);
    const ck = await T.loadCheckpoint(entries[0].path, { format: SECO_CHECKPOINT_FORMAT });
    ck.tensors[SCALER_KEY] = { dtype: 'F32', shape: [4], data: Float32Array.from([MIN_LOSS_SCALE / 4, 0, 0, 40]) };
    await T.saveCheckpoint(entries[0].path, { format: SECO_CHECKPOINT_FORMAT, tensors: ck.tensors, step: ck.step ?? undefined, rng: ck.rng ?? undefined, meta: ck.meta ?? undefined });
    const err = await train({ config: mixed, out, resume: true }, quiet()).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).name).toBe('DivergenceError');
    expect((err as Error).message).toMatch(
      new RegExp(`^training diverged at iteration 4: the loss scale fell to ${MIN_LOSS_SCALE / 4} \\(below ${MIN_LOSS_SCALE}\\) after 40 skipped steps: `),
    );
  }, 240_000);

  test('ToCo trains in mixed precision too: finite losses, its teacher head f32, the student saved as its masters', async () => {
    const config = loadConfig('toco-demo', [...syntheticPaths(data), ...TINY_TOCO, 'train.precision=mixed', 'train.max_iters=4', 'log.checkpoint_interval=4']).config;
    const out = tmp();
    expect(await train({ config, out, resume: false }, quiet())).toBe(0);
    const log = await RunDir.open(out, { resume: true }).readLog();
    expect(log.map((r) => r.iteration)).toEqual([0, 1, 2, 3]);
    for (const r of log) for (const [k, v] of Object.entries(r.losses)) expect(Number.isFinite(v), `${k} = ${v} at ${r.iteration}`).toBe(true);
    for (const r of log) expect(r.loss_scale! * 2 ** r.skipped_steps!, `iteration ${r.iteration}`).toBe(2 ** 16);
    expect(log[3].losses.ctc).not.toBe(0);
    const saved = (await T.loadCheckpoint(join(out, 'checkpoints', 'step-00000004.safetensors'), { format: TOCO_CHECKPOINT_FORMAT })).tensors;
    const teacher = Object.entries(saved).filter(([k]) => k.startsWith('model.proj_head_t.'));
    expect(teacher.length).toBeGreaterThan(0);
    for (const [k, t] of teacher) expect(t.dtype, k).toBe('F32');
    expect(Object.keys(saved).some((k) => /^optim\.state\.\d+\.master$/.test(k))).toBe(true);
    expect(saved[SCALER_KEY]).toBeDefined();
  }, 240_000);
});
