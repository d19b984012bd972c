// Sharded and resumed evaluation on the VOC sample with a random tiny network: two `--shard` jobs merged by
// `seco merge` give the single run's report exactly, and a run killed mid-way resumes with the same result.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as T from '@seco/tensor';
import { beforeAll, describe, expect, test } from 'vitest';
import { loadConfig } from '../src/config/load.ts';
import { recordsFile } from '../src/eval/records.ts';
import { main } from '../src/main.ts';
import { randomCheckpoint } from './support/random-checkpoint.ts';
import { VOC_SAMPLE_SETS, vocSample } from './support/voc-sample.ts';

const { config } = loadConfig('demo', [...VOC_SAMPLE_SETS]);
const tmp = () => mkdtempSync(join(tmpdir(), 'seco-cli-shards-'));
const listed = readFileSync(join(vocSample, 'lists', 'val.txt'), 'utf8').split(/\s+/).filter(Boolean).length;
/** An odd number of images (at most the list), so the two shards differ in size. */
const IMAGES = Math.min(listed, 5) - (Math.min(listed, 5) % 2 === 0 ? 1 : 0);

let checkpoint = '';

async function seco(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io = { stdout: { write: (s: string) => out.push(s) } as never, stderr: { write: (s: string) => err.push(s) } as never };
  const code = await main(args, io);
  return { code, out: out.join(''), err: err.join('') };
}
const evalArgs = (out: string, ...more: string[]) => ['eval', '--config', 'demo', ...VOC_SAMPLE_SETS.flatMap((s) => ['--set', s]), '--checkpoint', checkpoint, '--out', out, '--limit', String(IMAGES), ...more];
const iou = (dir: string) => JSON.parse(readFileSync(join(dir, 'iou.json'), 'utf8'));

let single: unknown = null;

beforeAll(async () => {
  await T.init();
  checkpoint = await randomCheckpoint(config);
  const dir = tmp();
  const r = await seco(evalArgs(dir));
  if (r.code !== 0) throw new Error(`the single run failed: ${r.err}`);
  single = iou(dir);
});

describe('seco eval over shards', () => {
  test(`two shards merged give the single run's report`, async () => {
    expect(IMAGES).toBeGreaterThanOrEqual(3);
    const dir = tmp();
    for (const s of ['1/2', '0/2']) {
      const r = await seco(evalArgs(dir, '--shard', s));
      expect(r.err).not.toContain('seco:');
      expect(r.out).toContain(`shard ${s}`);
    }
    const early = await seco(['merge', '--out', tmp()]);
    expect(early.code).toBe(1);
    const m = await seco(['merge', '--out', dir]);
    expect(m.err).toBe('');
    expect(m.out).toContain(`merged 2 shards (${IMAGES} images)`);
    expect(iou(dir)).toEqual(single);
  });

  test('a killed evaluation resumes where it stopped', async () => {
    const dir = tmp();
    expect((await seco(evalArgs(dir))).code).toBe(0);
    // As if killed while appending the third record: the header, two records and a torn line.
    const file = recordsFile(dir, { index: 0, count: 1 });
    const lines = readFileSync(file, 'utf8').split('\n');
    writeFileSync(file, `${lines.slice(0, 3).join('\n')}\n${lines[3].slice(0, 10)}`);
    const r = await seco(evalArgs(dir));
    expect(r.code).toBe(0);
    expect(r.err).toContain(`resuming: 2 of ${IMAGES} images already scored`);
    expect(iou(dir)).toEqual(single);
    expect(readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(IMAGES + 1);
  });

  test('a shard of another checkpoint is refused by the merge', async () => {
    const dir = tmp();
    await seco(evalArgs(dir, '--shard', '0/2'));
    await seco(evalArgs(dir, '--shard', '1/2', '--set', 'eval.scales=[1,0.5]'));
    const m = await seco(['merge', '--out', dir]);
    expect(m.code).toBe(1);
    expect(m.err).toMatch(/records-1-of-2\.jsonl: made with a different settings/);
  });
});
