// seco eval / cam on the VOC sample with a randomly initialised tiny SeCo network: the real model calls through
// the bridge, the real dataset reader, and every output file.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeIndexPng } from '@seco/data';
import * as T from '@seco/tensor';
import { beforeAll, describe, expect, test } from 'vitest';
import { loadConfig } from '../src/config/load.ts';
import { main } from '../src/main.ts';
import { randomCheckpoint } from './support/random-checkpoint.ts';
import { VOC_SAMPLE_SETS, vocSample } from './support/voc-sample.ts';

const voc = vocSample;
const sets = [...VOC_SAMPLE_SETS, 'eval.scales=[1,1.5]'];
const { config } = loadConfig('demo', sets);
const tmp = () => mkdtempSync(join(tmpdir(), 'seco-cli-e2e-'));

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { stdout: { write: (s: string) => out.push(s) } as never, stderr: { write: (s: string) => err.push(s) } as never }, out, err };
}

let checkpoint = '';

beforeAll(async () => {
  await T.init();
  checkpoint = await randomCheckpoint(config);
});

describe('seco eval / cam on the VOC sample', () => {
  test('eval: predictions at image size, IoU files, contact sheet', async () => {
    const out = tmp();
    const c = capture();
    const code = await main(['eval', '--config', 'demo', ...sets.flatMap((s) => ['--set', s]), '--checkpoint', checkpoint, '--out', out, '--limit', '3'], c.io);
    expect(c.err.join('')).not.toContain('seco:');
    expect(code).toBe(0);
    const preds = readdirSync(join(out, 'pred')).sort();
    const ids = readFileSync(join(voc, 'lists', 'val.txt'), 'utf8').split(/\s+/).filter(Boolean).slice(0, 3);
    expect(preds).toEqual(ids.map((i) => `${i}.png`).sort());
    for (const id of ids) {
      const p = decodeIndexPng(readFileSync(join(out, 'pred', `${id}.png`)), id);
      const gt = decodeIndexPng(readFileSync(join(voc, 'VOC2012', 'SegmentationClassAug', `${id}.png`)), id);
      expect([p.width, p.height]).toEqual([gt.width, gt.height]);
      expect(p.data.reduce((a, b) => Math.max(a, b), 0)).toBeLessThanOrEqual(20);
    }
    const report = JSON.parse(readFileSync(join(out, 'iou.json'), 'utf8'));
    expect(report.images).toBe(3);
    expect(report.classes).toHaveLength(21);
    expect(report.miou).toBeGreaterThanOrEqual(0);
    expect(c.out.join('')).toContain('mIoU');
    expect(existsSync(join(out, 'sheet.png'))).toBe(true);
    expect(existsSync(join(out, 'iou.md'))).toBe(true);
  });

  test('cam: seeds from multiScaleCam + camToLabel use only the image labels', async () => {
    const out = tmp();
    const c = capture();
    const code = await main(['cam', '--config', 'demo', ...sets.flatMap((s) => ['--set', s]), '--checkpoint', checkpoint, '--out', out, '--limit', '2'], c.io);
    expect(c.err.join('')).not.toContain('seco:');
    expect(code).toBe(0);
    const ids = readFileSync(join(voc, 'lists', 'train.txt'), 'utf8').split(/\s+/).filter(Boolean).slice(0, 2);
    for (const id of ids) {
      const p = decodeIndexPng(readFileSync(join(out, 'pred', `${id}.png`)), id);
      const gt = decodeIndexPng(readFileSync(join(voc, 'VOC2012', 'SegmentationClassAug', `${id}.png`)), id);
      const present = new Set([0, ...[...gt.data].filter((v) => v !== 255)]);
      for (const v of new Set(p.data)) expect(present.has(v)).toBe(true);
    }
  });

  test('infer with CRF: palette mask and overlay per image file', async () => {
    const out = tmp();
    const c = capture();
    const img = join(voc, 'VOC2012', 'JPEGImages', '2007_000032.jpg');
    const code = await main(['infer', '--config', 'demo', ...sets.flatMap((s) => ['--set', s]), '--set', 'eval.crf=true', '--checkpoint', checkpoint, '--out', out, img], c.io);
    expect(c.err.join('')).not.toContain('seco:');
    expect(code).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['2007_000032.png', '2007_000032_overlay.png']);
    const p = decodeIndexPng(readFileSync(join(out, '2007_000032.png')), 'p');
    expect([p.width, p.height]).toEqual([500, 281]);
  });

  test('the bin launcher runs the TypeScript entry from the source tree', () => {
    const r = spawnSync(process.execPath, [fileURLToPath(new URL('../bin/seco.mjs', import.meta.url)), 'eval', '--bogus'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("seco: eval: unknown flag '--bogus'");
  });

  test('a checkpoint for another model size is refused, naming the file', async () => {
    const c = capture();
    const code = await main(['eval', '--config', 'demo', ...sets.flatMap((s) => ['--set', s]), '--set', 'model.embed_dim=64', '--checkpoint', checkpoint, '--out', tmp()], c.io);
    expect(code).toBe(1);
    expect(c.err.join('')).toContain(`${checkpoint}: does not fit the config's model`);
  });

  test('train without its dataset fails naming the missing file', async () => {
    const c = capture();
    const out = tmp();
    const code = await main(['train', '--config', 'demo', '--out', out, '--set', `data.root=${join(out, 'nowhere')}`, '--set', `data.train_list=${join(out, 'nowhere', 'train.txt')}`], c.io);
    expect(code).toBe(1);
    expect(c.err.join('')).toContain(join(out, 'nowhere'));
  });
});
