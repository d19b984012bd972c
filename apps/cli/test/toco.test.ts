import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSynthetic } from '@seco/data';
import { TOCO_CHECKPOINT_FORMAT } from '@seco/models';
import * as T from '@seco/tensor';
import { beforeAll, describe, expect, test } from 'vitest';
import { demoCommand, type DemoResult } from '../src/commands/demo.ts';
import { evalCommand } from '../src/commands/evaluate.ts';
import { loadConfig } from '../src/config/load.ts';
import { lossWeights, schedulePoint } from '../src/schedule.ts';
import { TINY, TINY_TOCO } from './support/tiny-config.ts';

beforeAll(async () => {
  await T.init();
});

// The tiny demo settings without SeCo's own (LIL / LIG starts, queue), with ToCo's 2 local crops and a small CTC head.

describe('method in the config', () => {
  test('toco presets: ToCo loss terms, weights and starts; schedule points carry the iteration', () => {
    const voc = loadConfig('toco').config;
    expect(voc.method).toBe('toco');
    expect(voc.loss.weights).toEqual({ cls: 1, cls_aux: 1, ptc: 0.2, ctc: 0.5, seg: 0.1, reg: 0.05 });
    expect(lossWeights(voc, 2000)).toEqual({ cls: 1, cls_aux: 1, ptc: 0.2, ctc: 0.5, seg: 0, reg: 0 });
    expect(lossWeights(voc, 2001)).toEqual(voc.loss.weights);
    expect(voc.cam.scales).toEqual([1.0, 0.5, 1.5]);
    expect([voc.train.local_crop_size, voc.train.ncrops, voc.toco.momentum, voc.toco.temp]).toEqual([96, 10, 0.9, 0.5]);
    const demo = loadConfig('toco-demo').config;
    expect(schedulePoint(demo, 7)).toEqual({ weights: lossWeights(demo, 7), iteration: 7 });
    expect(demo.model).toEqual(loadConfig('demo').config.model);
  });

  test('an unknown method, or loss terms of another method, are refused naming the key', () => {
    expect(() => loadConfig('demo', ['method=mctformer'])).toThrow('config method: got "mctformer", expected one of "seco", "toco"');
    expect(() => loadConfig('demo', ['method=toco'])).toThrow(/loss\.weights must name exactly the loss terms of method "toco" \(cls, cls_aux, ptc, ctc, seg, reg\): missing ctc; not a toco term: lil, lig/);
    expect(() => loadConfig('toco-demo', ['loss.weights.lil=1'])).toThrow(/not a toco term: lil/);
  });
});

describe('seco demo --config toco-demo (tiny)', () => {
  test('trains ToCo end to end, writes a toco checkpoint, and seco eval reads it', async () => {
    const out = mkdtempSync(join(tmpdir(), 'toco-demo-'));
    generateSynthetic({ outDir: join(out, 'synthetic'), count: 20, size: 32, numClasses: 5, seed: 0 });
    const lines: string[] = [];
    const io = { stdout: { write: (s: string) => lines.push(s) } as never, stderr: { write: () => true } as never };
    const set = [...TINY_TOCO, 'train.max_iters=3', 'log.checkpoint_interval=0'];
    expect(await demoCommand({ config: 'toco-demo', out, set }, io)).toBe(0);
    const r = JSON.parse(readFileSync(join(out, 'demo.json'), 'utf8')) as DemoResult;
    expect([r.method, r.iterations, r.val_images]).toEqual(['toco', 3, 4]);
    expect(r.miou).toBeGreaterThanOrEqual(0);
    const log = readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { losses: Record<string, number> });
    expect(Object.keys(log[2].losses)).toEqual(['cls', 'cls_aux', 'ptc', 'ctc', 'seg', 'reg']);
    for (const [k, v] of Object.entries(log[2].losses)) expect(Number.isFinite(v), k).toBe(true);
    expect(log[2].losses.ctc).toBeGreaterThan(0);
    const checkpoint = join(out, 'checkpoints', 'step-00000003.safetensors');
    expect((await T.loadCheckpoint(checkpoint, { format: TOCO_CHECKPOINT_FORMAT })).step).toBe(3);

    const evalOut = join(out, 'eval-again');
    const demoSet = [...set, `data.root=${join(out, 'synthetic')}`, `data.val_list=${join(out, 'synthetic', 'val.txt')}`, `data.labels=${join(out, 'synthetic', 'cls_labels.json')}`];
    expect(await evalCommand('seg', { config: 'toco-demo', set: demoSet, checkpoint, split: 'val', out: evalOut }, io)).toBe(0);
    expect(existsSync(join(evalOut, 'iou.json'))).toBe(true);
    const report = JSON.parse(readFileSync(join(evalOut, 'iou.json'), 'utf8')) as { miou: number };
    expect(report.miou).toBeCloseTo(r.miou, 10);
    // The SeCo demo config would build another network: refused, naming both methods.
    await expect(evalCommand('seg', { config: 'demo', set: [...TINY, ...demoSet.slice(-3)], checkpoint, split: 'val', out: join(out, 'wrong') }, io)).rejects.toThrow(
      /is a toco checkpoint but the config's method is seco/,
    );
  }, 300_000);
});
