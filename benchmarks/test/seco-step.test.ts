// The seco-step plumbing at test size: the CLI's trainer on the VOC sample, every loss on from iteration 0.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasEngine, shutdown } from '@seco/tensor';
import { afterAll, describe, expect, test } from 'vitest';
import { stepConfig } from '../seco-step/config.ts';
import { stepOptionsFromEnv } from '../seco-step/env.ts';
import { measureSecoStep } from '../seco-step/measure.ts';
import { secoStepRows } from '../seco-step/rows.ts';
import { TINY_STEP_SETS } from '../seco-step/tiny.ts';
import { sharedDataDir } from '../shared-data.ts';

afterAll(() => {
  if (hasEngine()) shutdown();
});

describe('seco-step', () => {
  test('one iteration at crop 64, batch 1, tiny ViT: counters and times are sane', async () => {
    // A cache of its own: warm-start records left by other runs (the report's child processes share the test
    // cache) would precompile the pipelines and leave the cold iteration nothing to compile.
    process.env.SECO_CACHE = mkdtempSync(join(tmpdir(), 'seco-step-cache-'));
    const r = await measureSecoStep({ preset: 'voc', dataDir: sharedDataDir(), crop: 64, batch: 1, iterations: 2, workers: 0, sets: TINY_STEP_SETS });
    expect([r.preset, r.crop, r.batch, r.iterations]).toEqual(['voc', 64, 1, 2]);
    if (!r.warm) throw new Error('two timed iterations were asked for');
    const warm = r.warm;
    for (const s of [r.cold, warm]) {
      expect(s.dispatches).toBeGreaterThan(100);
      expect(s.submits).toBeGreaterThan(0);
      // The tag plan reads the ROI mask back every iteration; the energy loss reads the softmax.
      expect(s.readbacks).toBeGreaterThanOrEqual(2);
      for (const k of ['wallMs', 'encodeMs', 'compileMs', 'queueIdleMs', 'hostUsPerDispatch'] as const) {
        expect(Number.isFinite(s[k]) && s[k] >= 0, `${k} = ${s[k]}`).toBe(true);
      }
      expect(s.encodeMs).toBeLessThan(s.wallMs);
      expect(s.hostUsPerDispatch).toBeGreaterThan(0);
      // Linux has the thread CPU clock: the thread's CPU time cannot exceed the wall time of the same spans.
      if (process.platform === 'linux') {
        expect(s.encodeCpuMs).toBeGreaterThan(0);
        expect(s.encodeCpuMs).toBeLessThanOrEqual(s.encodeMs + 1);
        expect(s.hostCpuUsPerDispatch).toBeCloseTo((1000 * s.encodeCpuMs) / s.dispatches, 6);
      }
    }
    // Every pipeline is compiled in the cold iteration; the same shapes reuse them.
    expect(r.cold.newPipelines).toBeGreaterThan(10);
    expect(r.cold.compileMs).toBeGreaterThan(0);
    expect(warm.newPipelines).toBe(0);
    // The pool settles: the last timed iteration binds the buffers of the one before and creates few bind groups.
    expect(r.timed).toHaveLength(2);
    expect(r.timed[1].bindGroupMisses).toBeLessThan(r.cold.bindGroupMisses / 4);
    expect(r.warmWallMs).toHaveLength(2);
    expect(r.pipelines).toBeGreaterThanOrEqual(r.cold.newPipelines);
    expect(r.peakLiveBytes).toBeGreaterThan(0);
    // Every loss on from iteration 0: each term is a finite number, the classification ones non-zero.
    expect(Object.keys(r.losses).sort()).toEqual(['cls', 'cls_aux', 'lig', 'lil', 'ptc', 'reg', 'seg']);
    for (const [k, v] of Object.entries(r.losses)) expect(Number.isFinite(v), `${k} = ${v}`).toBe(true);
    for (const k of ['cls', 'cls_aux', 'seg']) expect(r.losses[k], k).toBeGreaterThan(0);

    const rows = secoStepRows(r);
    expect(rows.map((c) => c.ms)).toEqual([Number(warm.wallMs.toFixed(1)), Number(r.cold.wallMs.toFixed(1))]);
    expect(rows[0].notes).toMatch(/dispatches/);
    expect(rows[0].notes).toMatch(/last timed iteration: .* bind groups created/);
    // A cold-only run (iterations 0, e.g. the coco preset on a CPU adapter): one row carrying the run's figures.
    const coldOnly = secoStepRows({ ...r, iterations: 0, warm: null, warmWallMs: [] });
    expect(coldOnly.map((c) => [c.name, c.ms])).toEqual([['SeCo iteration, first (cold)', Number(r.cold.wallMs.toFixed(1))]]);
    expect(coldOnly[0].notes).toMatch(/peak GPU memory .* MiB/);
    expect(coldOnly[0].detail).toMatchObject({ warm: null });
  }, 300_000);

  test('options: the preset\'s sizes by default, every loss from 0, bad values named', () => {
    const c = stepConfig({ preset: 'voc', dataDir: '/data' });
    expect([c.train.crop_size, c.train.batch_size, c.model.depth, c.model.pretrained]).toEqual([448, 4, 12, null]);
    expect(Object.values(c.loss.start)).toEqual([0, 0, 0, 0, 0, 0, 0]);
    expect(c.seco.update_prototype).toBe(0);
    const coco = stepConfig({ preset: 'coco', dataDir: '/data', crop: 224 });
    expect([coco.train.crop_size, coco.train.batch_size, coco.data.num_classes, coco.cam.scales.length]).toEqual([224, 8, 80, 5]);
    expect(() => stepConfig({ preset: 'voc', dataDir: '/data', batch: 0 })).toThrow(/batch must be an integer >= 1/);
    expect(stepConfig({ preset: 'voc', dataDir: '/data', iterations: 0 }).train.batch_size).toBe(4);
    expect(() => stepConfig({ preset: 'voc', dataDir: '/data', iterations: -1 })).toThrow(/iterations must be an integer >= 0/);
    expect(() => stepConfig({ preset: 'ade' as never, dataDir: '/data' })).toThrow(/preset must be one of voc, coco/);
    expect(() => stepConfig({ preset: 'voc', dataDir: '/data', crop: 100 })).toThrow(/crop_size \(100\) must be a multiple of model.patch_size/);
    expect(stepOptionsFromEnv({ SECO_STEP_PRESET: 'coco', SECO_STEP_CROP: '64', SECO_STEP_SET: ' model.depth=2  model.embed_dim=32 ' })).toMatchObject({
      preset: 'coco',
      crop: 64,
      sets: ['model.depth=2', 'model.embed_dim=32'],
    });
    expect(() => stepOptionsFromEnv({ SECO_STEP_BATCH: 'four' })).toThrow('SECO_STEP_BATCH=four: expected an integer');
    expect(() => stepOptionsFromEnv({ SECO_STEP_PRESET: 'ade' })).toThrow(/SECO_STEP_PRESET=ade/);
  });
});
