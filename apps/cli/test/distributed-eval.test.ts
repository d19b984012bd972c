// `mpirun -np 2 seco eval` on the VOC sample with a random tiny network: the two ranks' summed confusion
// matrices give one process's report exactly, and a job killed mid-way resumes from its per-image records.
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as T from '@seco/tensor';
import { beforeAll, describe, expect, test } from 'vitest';
import { loadConfig } from '../src/config/load.ts';
import { launcherFlags, requireMpirun, run, SECO_BIN, seco } from './support/mpirun.ts';
import { randomCheckpoint } from './support/random-checkpoint.ts';
import { VOC_SAMPLE_SETS, vocSample } from './support/voc-sample.ts';
import { spawn } from 'node:child_process';

const { config } = loadConfig('demo', [...VOC_SAMPLE_SETS]);
const tmp = () => mkdtempSync(join(tmpdir(), 'seco-mpi-eval-'));
const listed = readFileSync(join(vocSample, 'lists', 'val.txt'), 'utf8').split(/\s+/).filter(Boolean).length;
/** An odd count, so the ranks' shares differ; enough that a kill lands mid-way. */
const IMAGES = Math.min(listed, 9) - (Math.min(listed, 9) % 2 === 0 ? 1 : 0);

let checkpoint = '';
let single: unknown = null;
const evalArgs = (out: string) => ['eval', '--config', 'demo', ...VOC_SAMPLE_SETS.flatMap((s) => ['--set', s]), '--checkpoint', checkpoint, '--out', out, '--limit', String(IMAGES)];
const mpiEval = (out: string) => [...launcherFlags(), '-np', '2', process.execPath, SECO_BIN, ...evalArgs(out)];
const iou = (dir: string) => JSON.parse(readFileSync(join(dir, 'iou.json'), 'utf8'));
/** Images scored so far in a folder's records (every line after each file's header). */
const scored = (dir: string) =>
  existsSync(dir) ? readdirSync(dir).filter((f) => /^records-\d+-of-2\.jsonl$/.test(f)).reduce((n, f) => n + readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean).length - 1, 0) : 0;

beforeAll(async () => {
  requireMpirun();
  await T.init();
  checkpoint = await randomCheckpoint(config);
  const dir = tmp();
  const r = await seco(evalArgs(dir));
  if (r.code !== 0) throw new Error(`the single-process run failed: ${r.err}`);
  single = iou(dir);
}, 600_000);

describe('seco eval under mpirun', () => {
  test("2 ranks give the single process's report exactly", async () => {
    expect(IMAGES).toBeGreaterThanOrEqual(5);
    const dir = tmp();
    const r = await run('mpirun', mpiEval(dir));
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain(`2 ranks scored ${IMAGES} images`);
    expect(iou(dir)).toEqual(single);
    expect(readdirSync(dir).filter((f) => f.startsWith('records-')).sort()).toEqual(['records-0-of-2.jsonl', 'records-1-of-2.jsonl']);
  }, 600_000);

  test('a job killed mid-way resumes from its records and gives the same report', async () => {
    const dir = tmp();
    const job = spawn('mpirun', mpiEval(dir), { stdio: 'ignore' });
    const ended = new Promise<number | null>((resolve) => job.on('close', resolve));
    // Killed once the first image is recorded.
    for (let t = 0; scored(dir) < 1; t++) {
      if (t > 3000 || job.exitCode !== null) throw new Error(`the job ended (${job.exitCode}) or took over 10 min before scoring an image`);
      await new Promise((r) => setTimeout(r, 200));
    }
    job.kill('SIGTERM');
    await ended;
    const before = scored(dir);
    expect(before, 'the kill came after the last image: nothing left to resume').toBeLessThan(IMAGES);
    expect(existsSync(join(dir, 'iou.json'))).toBe(false);
    const r = await run('mpirun', mpiEval(dir));
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/resuming: \d+ of \d+ images already scored/);
    expect(iou(dir)).toEqual(single);
    expect(scored(dir)).toBe(IMAGES);
  }, 900_000);
});
