// Run by data-parallel.test.ts under `mpirun -np 2`: each rank puts rank-dependent values through DataParallel
// and prints what it got back as one `RESULT {json}` line; the test checks the values against their definitions.
import * as T from '@seco/tensor';
import { DataParallel, RankDivergenceError } from '../../src/distributed/data-parallel.ts';
import { closeWorld, openWorld } from '../../src/distributed/world.ts';

const world = openWorld();
if (!world) throw new Error('data-parallel-probe runs under mpirun -np 2 or more');
await T.init();
const r = world.rank;
const fill = (n: number, f: (i: number) => number) => Float32Array.from({ length: n }, (_, i) => f(i));

// Gradients: a (3, 5) and an (11) parameter with a gradient on every rank, a (2, 2) one with a gradient on
// rank 0 only, a (4) one with none. Buckets of 7 elements: the (3, 5) is a bucket alone, larger than a bucket.
const shapes = [[3, 5], [11], [2, 2], [4]];
const params = shapes.map((s) => T.zeros(s));
params[0].grad = T.tensor(fill(15, (i) => (r + 1) * (i + 1) + 0.25 * r), [3, 5]);
params[1].grad = T.tensor(fill(11, (i) => -(r + 2) * i), [11]);
if (r === 0) params[2].grad = T.tensor(fill(4, (i) => 8 * (i + 1)), [2, 2]);
const dp = new DataParallel(world, params, 7);
await dp.reduceGradients();
const grads = await Promise.all(params.map(async (p) => (p.grad ? Array.from(await p.grad.data()) : null)));

// Gradients from a real backward: the hooks start a bucket's readback while backward runs. Loss terms
// sum(p · c_r) give each parameter c_r as its gradient: a (5) gets (r+1)(i+1), b (6) r - i, the f16 h (3)
// (r+1)(i+1)/2; u (4) gets none. Buckets of 7, last parameters first: [u, h], [b], [a]; [u, h] waits for u.
const [a, b, h, u] = [T.zeros([5]), T.zeros([6]), T.zeros([3], 'f16'), T.zeros([4])].map((t) => t.requiresGrad_());
const dpBackward = new DataParallel(world, [a, b, h, u], 7);
const coef = (n: number, f: (i: number) => number) => T.tensor(fill(n, f), [n]);
const loss = T.add(
  T.add(T.sum(T.mul(a, coef(5, (i) => (r + 1) * (i + 1)))), T.sum(T.mul(b, coef(6, (i) => r - i)))),
  T.sum(T.cast(T.mul(h, T.cast(coef(3, (i) => ((r + 1) * (i + 1)) / 2), 'f16')), 'f32')),
);
loss.backward();
await dpBackward.reduceGradients();
const backwardGrads = await Promise.all([a, b, h, u].map(async (p) => (p.grad ? [p.grad.dtype, ...Array.from(await p.grad.data())] : null)));
const overlap = dpBackward.lastReduce;
dpBackward.close();

// Gather: rank r's rows are 100 r + i, its tags r and -r - 1.
const rows = T.tensor(fill(6, (i) => 100 * r + i), [2, 3]);
const gathered = await dp.gather(rows, [r, -r - 1]);
const gatheredRows = Array.from(await gathered.rows.data());

// Broadcast: every rank ends with rank 0's values.
const mine = [T.tensor(fill(5, (i) => r * 1000 + i), [5]), T.tensor(fill(9, (i) => r - i), [3, 3])];
await dp.broadcastFromRoot(mine);
const broadcast = await Promise.all(mine.map(async (t) => Array.from(await t.data())));

// Agreement: equal tensors pass; a tensor that differs on the last rank is named in an error on every rank.
await dp.checkAgreement([['a', mine[0]], ['b', mine[1]]], 'equal');
const last = world.size - 1;
const odd = T.tensor(fill(3, (i) => (r === last ? 1 : 0) + i), [3]);
let divergence = '';
try {
  await dp.checkAgreement([['a', mine[0]], ['odd.weight', odd]], 'probe');
} catch (e) {
  divergence = e instanceof RankDivergenceError ? e.message : `not a RankDivergenceError: ${(e as Error).message}`;
}

dp.close();
console.log(`RESULT ${JSON.stringify({ rank: r, size: world.size, grads, backwardGrads, overlap, gatheredRows, gatheredTags: Array.from(gathered.tags), broadcast, divergence })}`);
await T.shutdown();
closeWorld();
