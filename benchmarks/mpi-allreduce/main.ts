// The gradient all-reduce of one SeCo step, timed under mpirun: the voc preset's trained parameters (their real
// shapes) with gradients, averaged by DataParallel.reduceGradients (GPU readback, MPI_Allreduce, upload), and the
// bare MPI_Allreduce of the same element count in host memory (the transport alone). Rank 0 prints and writes
// results/mpi-allreduce.json.
//   mpirun -np 2 node --conditions=source --import tsx benchmarks/mpi-allreduce/main.ts
import { writeFileSync } from 'node:fs';
import { closeWorld, DataParallel, NativeBuffer, openWorld } from '@seco/cli/distributed';
import { loadConfig } from '@seco/cli/training';
import { networkConfig, SecoNetwork } from '@seco/models';
import * as T from '@seco/tensor';

const REPEATS = Number(process.env.MPI_BENCH_REPEATS ?? 3);
const world = openWorld();
if (!world) throw new Error('run it under mpirun -np 2 (or more)');
await T.init();
const { config } = loadConfig(process.env.MPI_BENCH_PRESET ?? 'voc', []);
const net = new SecoNetwork(networkConfig(config));
// What SeCo trains: every parameter of the optimizer's groups that gets a gradient (the frozen pos_embed does not).
const frozen = new Set(net.encoder.namedParameters().filter(([n]) => n.includes('pos_embed')).map(([, t]) => t));
const trained = [...net.encoder.parameters(), net.classifier.weight, net.auxClassifier.weight, ...net.projHead.parameters(), ...net.decoder.parameters()];
const params = trained.filter((p) => !frozen.has(p));
const elements = params.reduce((n, p) => n + p.size, 0);
const dp = new DataParallel(world, params);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const reduceMs: number[] = [];
for (let i = 0; i < REPEATS; i++) {
  for (const p of params) p.grad = T.full(p.shape, world.rank + 1);
  await world.barrier();
  const t0 = performance.now();
  await dp.reduceGradients();
  await params[params.length - 1].grad!.data(); // the last upload has landed
  reduceMs.push(performance.now() - t0);
  for (const p of params) (p.grad?.dispose(), (p.grad = null));
}
const bare = new NativeBuffer('f32', elements);
bare.array.fill(1);
const bareMs: number[] = [];
for (let i = 0; i < REPEATS; i++) {
  await world.barrier();
  const t0 = performance.now();
  await world.allreduceSum(bare);
  bareMs.push(performance.now() - t0);
}
bare.free();
dp.close();
if (world.rank === 0) {
  const mb = (elements * 4) / 1e6;
  const r = {
    ranks: world.size,
    preset: config.model,
    tensors: params.length,
    elements,
    megabytes: mb,
    reduce_gradients_ms: median(reduceMs),
    bare_allreduce_ms: median(bareMs),
    bare_allreduce_bus_gb_per_s: ((2 * (world.size - 1)) / world.size) * (mb / 1e3) / (median(bareMs) / 1e3),
    samples: { reduceMs, bareMs },
    adapter: T.engine().adapterDescription,
    date: new Date().toISOString(),
  };
  console.log(JSON.stringify(r, null, 2));
  writeFileSync(new URL('../results/mpi-allreduce.json', import.meta.url), `${JSON.stringify(r, null, 2)}\n`);
}
net.dispose();
await T.shutdown();
closeWorld();
