// The per-image records behind resumable and sharded evaluation, without a GPU: shares of a list, a torn last
// line, records from another checkpoint, and the checks of the merge.
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfusionMatrix } from '@seco/models';
import { describe, expect, test } from 'vitest';
import { mergeRecords, parseShard, RecordLog, type RecordsHeader, recordsFile, shardPositions } from '../src/eval/records.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'seco-records-'));
const header = (shard: [number, number], images: number, over: Partial<RecordsHeader> = {}): RecordsHeader => ({
  format: 'seco-eval-records/1',
  mode: 'seg',
  classes: ['background', 'a', 'b'],
  shard,
  images,
  list: 'L',
  checkpoint: 'C',
  settings: 'S',
  ...over,
});
/** One image's matrix from flat ground truth and prediction. */
const image = (gt: number[], pred: number[]) => new ConfusionMatrix(3).add(gt, pred);
const quiet = () => {};

describe('shards of a list', () => {
  test('i/n is parsed and checked', () => {
    expect(parseShard('1/4')).toEqual({ index: 1, count: 4 });
    for (const bad of ['4/4', '-1/2', '1', 'a/b', '0/0']) expect(() => parseShard(bad), bad).toThrow(/--shard: expected i\/n/);
  });

  test('the shards of a list cover every position once', () => {
    for (const [total, n] of [[10, 3], [2, 5], [7, 1]]) {
      const all = Array.from({ length: n }, (_, i) => shardPositions(total, { index: i, count: n })).flat().sort((a, b) => a - b);
      expect(all).toEqual(Array.from({ length: total }, (_, i) => i));
    }
  });
});

describe('RecordLog', () => {
  test('resumes what was scored and drops a torn last line', async () => {
    const dir = tmp();
    const h = header([0, 1], 3);
    const log = await RecordLog.open(dir, h, quiet);
    await log.add('x', image([0, 1, 1], [0, 1, 2]));
    await log.add('y', image([2, 2], [2, 0]));
    appendFileSync(recordsFile(dir, { index: 0, count: 1 }), '{"id":"z","hist":[[0,'); // killed mid-append
    const notes: string[] = [];
    const again = await RecordLog.open(dir, h, (l) => notes.push(l));
    expect(notes.join('')).toContain('resuming: 2 of 3 images');
    expect([again.has('x'), again.has('y'), again.has('z')]).toEqual([true, true, false]);
    expect([...again.total.hist]).toEqual([...log.total.hist]);
    await again.add('z', image([1], [1]));
    const text = readFileSync(recordsFile(dir, { index: 0, count: 1 }), 'utf8');
    expect(text.split('\n').filter(Boolean).map((l) => JSON.parse(l).id)).toEqual([undefined, 'x', 'y', 'z']);
  });

  test('records of another checkpoint are started over, saying so', async () => {
    const dir = tmp();
    const log = await RecordLog.open(dir, header([0, 1], 2), quiet);
    await log.add('x', image([1], [1]));
    const notes: string[] = [];
    const other = await RecordLog.open(dir, header([0, 1], 2, { checkpoint: 'D' }), (l) => notes.push(l));
    expect(notes.join('')).toMatch(/made with a different checkpoint: starting over/);
    expect(other.count).toBe(0);
  });
});

describe('mergeRecords', () => {
  async function shards(dir: string, n: number, ids: string[][], over: Partial<RecordsHeader>[] = []) {
    for (let i = 0; i < n; i++) {
      const log = await RecordLog.open(dir, header([i, n], ids[i].length, over[i] ?? {}), quiet);
      for (const id of ids[i]) await log.add(id, image([0, 1, 2, 2], [0, 1, 2, i % 3]));
    }
  }

  test('sums the shards into the matrix of one run', async () => {
    const dir = tmp();
    await shards(dir, 2, [['p', 'r'], ['q']]);
    const one = new ConfusionMatrix(3);
    for (const i of [0, 0, 1]) one.merge(image([0, 1, 2, 2], [0, 1, 2, i % 3]));
    const m = await mergeRecords(dir);
    expect([...m.cm.hist]).toEqual([...one.hist]);
    expect([m.images, m.shards]).toEqual([3, 2]);
    expect(m.classes).toEqual(['background', 'a', 'b']);
  });

  test('names a missing shard, an unfinished one, a twice-scored image and a foreign one', async () => {
    const missing = tmp();
    await shards(missing, 3, [['p'], ['q'], ['r']]);
    rmSync(recordsFile(missing, { index: 2, count: 3 }));
    await expect(mergeRecords(missing)).rejects.toThrow(/shard 2\/3 missing/);

    const unfinished = tmp();
    await shards(unfinished, 2, [['p'], ['q']], [{}, { images: 2 }]);
    await expect(mergeRecords(unfinished)).rejects.toThrow(/records-1-of-2\.jsonl: 1 of its 2 images scored/);

    const twice = tmp();
    await shards(twice, 2, [['p'], ['p']]);
    await expect(mergeRecords(twice)).rejects.toThrow(/p is scored in both/);

    const foreign = tmp();
    await shards(foreign, 2, [['p'], ['q']], [{}, { checkpoint: 'D' }]);
    await expect(mergeRecords(foreign)).rejects.toThrow(/records-1-of-2\.jsonl: made with a different checkpoint/);

    await expect(mergeRecords(tmp())).rejects.toThrow(/no records-\*-of-\*\.jsonl files/);
  });
});
