// `mpirun -np 2 seco demo`: rank 0 alone generates the synthetic set (the other waits for it), both train, and
// rank 0 evaluates and writes demo.json.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { mpirunSeco, requireMpirun } from './support/mpirun.ts';
import { TINY } from './support/tiny-config.ts';

beforeAll(() => {
  requireMpirun();
});

describe('seco demo under mpirun', () => {
  test('the set is generated once, both ranks train, rank 0 evaluates', async () => {
    const out = mkdtempSync(join(tmpdir(), 'seco-mpi-demo-'));
    const r = await mpirunSeco(2, ['demo', '--out', out, '--images', '20', ...[...TINY, 'train.max_iters=3', 'log.checkpoint_interval=0'].flatMap((s) => ['--set', s])]);
    expect(r.code, r.err).toBe(0);
    expect(r.out.match(/generating 20 synthetic co-occurrence images/g)).toHaveLength(1);
    expect(r.out).toContain('weights identical on all 2 ranks after iteration 3');
    const result = JSON.parse(readFileSync(join(out, 'demo.json'), 'utf8')) as { iterations: number; miou: number };
    expect(result.iterations).toBe(3);
    expect(Number.isFinite(result.miou)).toBe(true);
    expect(existsSync(join(out, 'rank-1', 'log.jsonl'))).toBe(true);
  }, 900_000);
});
