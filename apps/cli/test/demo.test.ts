import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSynthetic } from '@seco/data';
import * as T from '@seco/tensor';
import { beforeAll, describe, expect, test } from 'vitest';
import { demoCommand, type DemoResult } from '../src/commands/demo.ts';
import { CooccurrenceLeak } from '../src/eval/leak.ts';
import { TINY } from './support/tiny-config.ts';

beforeAll(async () => {
  await T.init();
});

describe('co-occurrence leak', () => {
  test('counts context pixels predicted as their own class only', () => {
    const leak = new CooccurrenceLeak(3);
    // pixels: context of class 1 (x3), of class 3 (x2), none (x1)
    leak.add(Uint8Array.from([1, 1, 1, 3, 3, 0]), Uint8Array.from([1, 0, 3, 3, 0, 1]));
    expect(leak.share()).toBeCloseTo(2 / 5, 12);
    expect(leak.perClass()).toEqual([1 / 3, null, 1 / 2]);
  });
});

describe('seco demo (tiny)', () => {
  test('trains with every term, evaluates the val split, writes demo.json, loss.png and sheet.png', async () => {
    const out = mkdtempSync(join(tmpdir(), 'seco-demo-'));
    // Pre-generated at test size: the demo generates only when OUT/synthetic is missing.
    generateSynthetic({ outDir: join(out, 'synthetic'), count: 20, size: 32, numClasses: 5, seed: 0 });
    const lines: string[] = [];
    const io = { stdout: { write: (s: string) => lines.push(s) } as never, stderr: { write: () => true } as never };
    const flags = { config: 'demo', out, set: [...TINY, 'log.checkpoint_interval=0'] };
    expect(await demoCommand(flags, io)).toBe(0);
    const r = JSON.parse(readFileSync(join(out, 'demo.json'), 'utf8')) as DemoResult;
    expect(r.iterations).toBe(6);
    expect(r.val_images).toBe(4);
    expect(r.miou).toBeGreaterThanOrEqual(0);
    expect(r.miou).toBeLessThanOrEqual(1);
    // Some val images show a context band, so the leak is a share, not NaN.
    expect(r.leak).toBeGreaterThanOrEqual(0);
    expect(r.leak).toBeLessThanOrEqual(1);
    expect(r.leak_per_class.some((v) => v !== null)).toBe(true);
    for (const f of ['loss.png', 'eval/sheet.png', 'eval/iou.json']) expect(existsSync(join(out, f)), f).toBe(true);
    expect(lines.join('')).toMatch(/demo: val mIoU \d+\.\d%, co-occurrence leak \d+\.\d%/);
  }, 120_000);

  test('without a synthetic set or data.synthetic to generate one, says so', async () => {
    const out = mkdtempSync(join(tmpdir(), 'seco-demo-'));
    const io = { stdout: { write: () => true } as never, stderr: { write: () => true } as never };
    await expect(demoCommand({ config: 'demo', out, set: [...TINY, 'data.synthetic=null'] }, io)).rejects.toThrow(/holds no synthetic set and the config has no data\.synthetic/);
  });
});
