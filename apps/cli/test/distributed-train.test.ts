// Data-parallel training under mpirun on this machine (two processes, Open MPI's shared-memory transport):
// 2 ranks × batch 2 end where 1 process × batch 4 ends, the full SeCo step keeps both ranks identical, and a rank
// that drifts apart is caught by the weight check.
//
// The equality uses the two classification losses only (cls and cls_aux, multilabel soft margin: a mean over
// the batch of per-sample terms), for which the mean of two ranks' per-rank means is the mean over the four
// samples, so the averaged gradient is the single process's up to float rounding. SeCo's other losses are not
// per-sample means (seg normalises bg/fg over the batch, PTC sums pairs over it, LIL/LIG normalise over crops and
// the queue): under DDP they differ from one big batch by design, in the original as here.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSynthetic } from '@seco/data';
import { SECO_CHECKPOINT_FORMAT } from '@seco/models';
import * as T from '@seco/tensor';
import { loadCheckpoint } from '@seco/tensor';
import { beforeAll, describe, expect, test } from 'vitest';
import { syntheticPaths } from '../src/commands/demo.ts';
import { checkpointName } from '../src/checkpoint/manager.ts';
import { loadConfig } from '../src/config/load.ts';
import { RunDir } from '../src/run/run-dir.ts';
import { networkFromConfig } from '../src/trainer/seco-trainer.ts';
import { mpirunSeco, requireMpirun, seco } from './support/mpirun.ts';
import { TINY, TINY_TOCO } from './support/tiny-config.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'seco-mpi-'));
const ITERS = 5;
/** Only the per-sample-mean losses weigh (see above). */
const CLS_ONLY = ['ptc', 'lil', 'lig', 'seg', 'reg'].map((t) => `loss.weights.${t}=0`);

let data = '';
const sets = (extra: string[]) => [...syntheticPaths(data), ...TINY, `train.max_iters=${ITERS}`, 'log.checkpoint_interval=0', ...extra].flatMap((s) => ['--set', s]);

beforeAll(() => {
  requireMpirun();
  data = tmp();
  generateSynthetic({ outDir: join(data, 'synthetic'), count: 24, size: 32, numClasses: 5, seed: 0 });
});

async function finalState(out: string) {
  const ck = await loadCheckpoint(join(out, 'checkpoints', checkpointName(ITERS)), { format: SECO_CHECKPOINT_FORMAT });
  return ck.tensors;
}

/** AdamW's largest possible move of one element over the logged steps (|m̂/√v̂| ≤ 1/(1−β1)·... bounded by 3 here), plus decay. */
function adamReach(lrs: number[], p0: number): number {
  const [b1, b2] = [0.9, 0.999];
  let total = 0;
  lrs.forEach((lr, k) => {
    const t = k + 1;
    let s2 = 0;
    for (let s = 1; s <= t; s++) s2 += ((1 - b1) * b1 ** (t - s)) ** 2 / ((1 - b2) * b2 ** (t - s));
    total += lr * ((Math.sqrt(s2) * Math.sqrt(1 - b2 ** t)) / (1 - b1 ** t) + 0.01 * (p0 + 1));
  });
  return total;
}

describe('seco train under mpirun', () => {
  test(`2 ranks × batch 2 give the weights of 1 process × batch 4 after ${ITERS} iterations`, async () => {
    const [two, one] = [tmp(), tmp()];
    const [a, b] = await Promise.all([
      mpirunSeco(2, ['train', '--config', 'demo', '--out', two, '--check-weights', '1', ...sets([...CLS_ONLY, 'train.batch_size=2'])]),
      seco(['train', '--config', 'demo', '--out', one, ...sets([...CLS_ONLY, 'train.batch_size=4'])]),
    ]);
    expect(a.code, a.err).toBe(0);
    expect(b.code, b.err).toBe(0);
    expect(a.out).toContain('data parallel over 2 ranks');
    expect(a.out).toContain(`weights identical on all 2 ranks after iteration ${ITERS}`);
    const [x, y] = await Promise.all([finalState(two), finalState(one)]);
    const lrs = (await RunDir.open(one, { resume: true }).readLog()).map((r) => r.lr);
    expect(lrs.length).toBe(ITERS);
    const dim = Number(TINY.find((s) => s.startsWith('model.embed_dim='))!.split('=')[1]);
    const names = Object.keys(y).filter((k) => k.startsWith('model.'));
    expect(Object.keys(x).filter((k) => k.startsWith('model.')).sort()).toEqual([...names].sort());
    let compared = 0;
    for (const k of names) {
      const [p, q] = [x[k].data, y[k].data];
      expect(p.length, k).toBe(q.length);
      // The attention key bias has an exact gradient of 0 (a per-query constant cancels in the softmax): AdamW
      // turns its float noise into ±lr steps of either sign, in either run, so it is held to AdamW's reach.
      const keyBias = /\.attn\.qkv\.bias$/.test(k);
      for (let i = 0; i < q.length; i++) {
        const bound = keyBias && i >= dim && i < 2 * dim ? 2 * adamReach(lrs, Math.abs(Number(q[i]))) : 1e-5 + 1e-3 * Math.abs(Number(q[i]));
        if (!(Math.abs(Number(p[i]) - Number(q[i])) <= bound)) throw new Error(`${k}[${i}]: 2 ranks ${p[i]}, 1 process ${q[i]} (bound ${bound})`);
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(10_000);
    // Training moved the classifier well beyond the tolerance: the runs are not two copies of the initial state.
    await T.init();
    const net = networkFromConfig(loadConfig('demo', [...syntheticPaths(data), ...TINY]).config);
    try {
      const w0 = await net.classifier.weight.data();
      const w = y['model.classifier.weight'].data;
      expect(Math.max(...Array.from(w0, (v, i) => Math.abs(v - Number(w[i]))))).toBeGreaterThan(1e-3);
    } finally {
      net.dispose();
    }
  }, 1_200_000);

  test('the full SeCo step on 2 ranks keeps them identical, resumes with the same count and refuses another', async () => {
    const out = tmp();
    const full = (iters: number, ...more: string[]) => ['train', '--config', 'demo', '--out', out, '--check-weights', '1', ...sets([`train.max_iters=${iters}`, 'log.checkpoint_interval=2']), ...more];
    const a = await mpirunSeco(2, full(4));
    expect(a.code, a.err).toBe(0);
    expect(a.out).toContain('weights identical on all 2 ranks after iteration 4');
    const log = await RunDir.open(out, { resume: true }).readLog();
    // Every SeCo term was on by iteration 2 (TINY) and the run wrote them.
    for (const k of ['cls', 'ptc', 'seg', 'reg']) expect(log[3].losses[k], k).not.toBe(0);
    expect(log.slice(2).some((r) => r.losses.lil !== 0), 'lil').toBe(true);
    // Rank 1 logged its own losses, in its folder.
    expect((await RunDir.open(join(out, 'rank-1'), { resume: true }).readLog()).map((r) => r.iteration)).toEqual([0, 1, 2, 3]);

    const other = await seco(full(6, '--resume'));
    expect(other.code).toBe(1);
    expect(other.err).toContain('it was trained on 2 ranks and this run has 1: resume it with the same count (mpirun -np 2)');
    const b = await mpirunSeco(2, full(6, '--resume'));
    expect(b.code, b.err).toBe(0);
    expect(b.out).toContain(`resuming from ${join(out, 'checkpoints', checkpointName(4))} (iteration 4)`);
    expect(b.out).toContain('weights identical on all 2 ranks after iteration 6');
  }, 1_200_000);

  test('mixed precision on 2 ranks: f16 gradients averaged, ranks identical (masters included), buckets read during backward', async () => {
    const out = tmp();
    const r = await mpirunSeco(2, ['train', '--config', 'demo', '--out', out, '--check-weights', '1', '--bucket-mb', '0.02', ...sets(['train.max_iters=3', 'train.precision=mixed'])]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('weights identical on all 2 ranks after iteration 3');
    const overlap = /gradient buckets read back during backward in the last step: (\d+) of (\d+)/.exec(r.out);
    expect(overlap, r.out).not.toBeNull();
    expect(Number(overlap![1])).toBeGreaterThan(0);
    const log = await RunDir.open(out, { resume: true }).readLog();
    expect(log.map((l) => l.iteration)).toEqual([0, 1, 2]);
    for (const l of log) expect(Number.isFinite(l.total), `iteration ${l.iteration}`).toBe(true);
    const ck = await loadCheckpoint(join(out, 'checkpoints', checkpointName(3)), { format: SECO_CHECKPOINT_FORMAT });
    // The student trained in f16 through f32 masters, which the checkpoint holds as its weights.
    expect(Object.keys(ck.tensors).some((k) => /^optim\.state\.\d+\.master$/.test(k))).toBe(true);
    expect(Object.entries(ck.tensors).filter(([k]) => k.startsWith('model.encoder.')).every(([, t]) => t.dtype === 'F32')).toBe(true);
  }, 1_200_000);

  test('ToCo on 2 ranks: every loss term on, ranks identical after each iteration', async () => {
    const out = tmp();
    const set = [...syntheticPaths(data), ...TINY_TOCO, 'train.max_iters=3', 'log.checkpoint_interval=0'].flatMap((s) => ['--set', s]);
    const r = await mpirunSeco(2, ['train', '--config', 'toco-demo', '--out', out, '--check-weights', '1', ...set]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('data parallel over 2 ranks');
    expect(r.out).toContain('weights identical on all 2 ranks after iteration 3');
    const log = await RunDir.open(out, { resume: true }).readLog();
    expect(log.map((l) => l.iteration)).toEqual([0, 1, 2]);
    // CTC from iteration 0, seg and energy from 2 (TINY): ToCo's own term and the shared ones ran on both ranks.
    for (const k of ['cls', 'ctc']) expect(log[0].losses[k], k).not.toBe(0);
    for (const k of ['seg', 'reg']) expect(log[2].losses[k], k).not.toBe(0);
  }, 1_200_000);

  test('a rank whose weights drift apart stops the run, named, after its first iteration', async () => {
    // Rank 1 is started with another lr: its averaged gradients are rank 0's, its updates are not.
    const out = tmp();
    const args = (lr: string) => ['train', '--config', 'demo', '--out', out, '--check-weights', '100', ...sets([...CLS_ONLY, `train.lr=${lr}`])];
    const r = await mpirunSeco(2, [], [args('1e-3'), args('2e-3')]);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/seco: after iteration 1: the weights of rank 1 \(first at encoder\.[\w.]+\) differ from rank 0's/);
  }, 1_200_000);
});

