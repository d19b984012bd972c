// DataParallel's collectives on two ranks (mpirun, shared memory), against values defined per rank in
// support/data-parallel-probe.ts: gradients averaged (and zero-filled where one rank has none; read back during
// backward where a bucket is complete; f16 ones too), rows gathered
// rank-major, rank 0's values broadcast, and a tensor that differs on one rank named in the agreement check.
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, test } from 'vitest';
import { mpirunScript, requireMpirun } from './support/mpirun.ts';

const PROBE = fileURLToPath(new URL('./support/data-parallel-probe.ts', import.meta.url));

interface Result {
  rank: number;
  size: number;
  grads: (number[] | null)[];
  backwardGrads: ((string | number)[] | null)[];
  overlap: { buckets: number; startedInBackward: number };
  gatheredRows: number[];
  gatheredTags: number[];
  broadcast: number[][];
  divergence: string;
}

let results: Result[] = [];
let stderr = '';
beforeAll(async () => {
  requireMpirun();
  const r = await mpirunScript(2, PROBE);
  stderr = r.err;
  if (r.code !== 0) throw new Error(`the probe failed (exit ${r.code}): ${r.err}`);
  results = r.out.split('\n').filter((l) => l.startsWith('RESULT ')).map((l) => JSON.parse(l.slice(7)) as Result).sort((a, b) => a.rank - b.rank);
}, 600_000);

const range = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i));

describe('DataParallel over MPI, 2 ranks', () => {
  test('both ranks report', () => {
    expect(results.map((r) => [r.rank, r.size]), stderr).toEqual([[0, 2], [1, 2]]);
  });

  test('gradients become the mean over ranks, in buckets; a gradient on one rank only is averaged with zeros', () => {
    // Ranks give (r+1)(i+1) + r/4 and -(r+2) i; rank 0 alone 8 (i+1); nobody a gradient for the fourth.
    const want = [range(15, (i) => (1.5 * (i + 1) + 0.125)), range(11, (i) => 0 - 2.5 * i), range(4, (i) => 4 * (i + 1)), null];
    for (const r of results) expect(r.grads, `rank ${r.rank}`).toEqual(want);
  });

  test('gradients of a real backward: full buckets start their readback during backward, f16 ones are averaged too', () => {
    // Per rank a: (r+1)(i+1), b: r - i, h (f16): (r+1)(i+1)/2; u: none (see the probe).
    const want = [['f32', ...range(5, (i) => 1.5 * (i + 1))], ['f32', ...range(6, (i) => 0.5 - i)], ['f16', ...range(3, (i) => 0.75 * (i + 1))], null];
    for (const r of results) {
      expect(r.backwardGrads, `rank ${r.rank}`).toEqual(want);
      // [b] and [a] were complete inside backward; [u, h] waited for u, which never got a gradient.
      expect(r.overlap, `rank ${r.rank}`).toEqual({ buckets: 3, startedInBackward: 2 });
    }
  });

  test('gather is concat_all_gather: rank-major rows and tags', () => {
    for (const r of results) {
      expect(r.gatheredRows).toEqual([...range(6, (i) => i), ...range(6, (i) => 100 + i)]);
      expect(r.gatheredTags).toEqual([0, -1, 1, -2]);
    }
  });

  test("every rank ends with rank 0's broadcast values", () => {
    for (const r of results) expect(r.broadcast).toEqual([range(5, (i) => i), range(9, (i) => 0 - i)]);
  });

  test('a tensor that differs on one rank stops every rank, naming the rank and the tensor', () => {
    for (const r of results) expect(r.divergence).toBe("probe: the weights of rank 1 (first at odd.weight) differ from rank 0's; data-parallel ranks must stay identical, so the run stops");
  });
});
