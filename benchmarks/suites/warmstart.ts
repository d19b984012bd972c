// Cold start against warm start: the first training step of a small ViT compiles its pipelines one by one as
// ops first run; a warm start compiles the programs a previous run recorded (engine().programs()) before the
// step, all requested at once through createComputePipelineAsync. Also: the same programs compiled one at a
// time with the synchronous call, which tells whether the driver compiles async requests in parallel.
import { AdamW, add, engine, Generator, init, type Program, randn, scope, shutdown, sum } from '@seco/tensor';
import { VisionTransformer } from '@seco/models';
import { round } from '../timing.ts';
import type { BenchCase } from '../types.ts';

/** A fresh device (no pipeline compiled), one training step; returns its wall ms and compile ms. */
async function firstStep(before?: (programs: Program[]) => Promise<number>, programs: Program[] = []): Promise<{ stepMs: number; compileMs: number; beforeMs: number; programs: Program[] }> {
  await init();
  const e = engine();
  const beforeMs = before ? await before(programs) : 0;
  const vit = new VisionTransformer({ imgSize: 64, patchSize: 16, embedDim: 192, depth: 2, numHeads: 3, numClasses: 0, auxLayer: -1 }, new Generator(0));
  const opt = new AdamW(vit.parameters().filter((p) => p.requiresGrad), { lr: 1e-4 });
  const x = randn([2, 3, 64, 64], 0, 1, new Generator(1));
  const c0 = e.stats().compileMs;
  const t0 = performance.now();
  scope(() => {
    const f = vit.forwardFeatures(x);
    add(add(sum(f.cls), sum(f.patchTokens)), sum(f.auxTokens)).backward();
  });
  opt.step();
  await e.sync();
  const stepMs = performance.now() - t0;
  const compileMs = e.stats().compileMs - c0;
  const recorded = e.programs();
  shutdown();
  return { stepMs, compileMs, beforeMs, programs: recorded };
}

export default async function run(): Promise<BenchCase[]> {
  const cold = await firstStep();
  const n = cold.programs.length;
  const warm = await firstStep(async (p) => (await engine().warmup(p)).ms, cold.programs);
  const serial = await firstStep(async (p) => {
    const t0 = performance.now();
    for (const q of p) engine().pipeline(q.code, q.label);
    return performance.now() - t0;
  }, cold.programs);
  await init();
  const adapter = engine().adapterDescription;
  const c = (name: string, ms: number, notes: string): BenchCase => ({ name, shape: `${n} pipelines`, ms: round(ms), gflops: null, peer_ms: null, ratio: null, adapter, notes });
  return [
    c('cold start: first step', cold.stepMs, `compiling inside the step: ${round(cold.compileMs)} ms`),
    c('warm start: warmup() (async, all at once)', warm.beforeMs, `then the first step ${round(warm.stepMs)} ms (compile inside ${round(warm.compileMs)} ms)`),
    c('serial precompile (sync, one by one)', serial.beforeMs, `then the first step ${round(serial.stepMs)} ms; warmup() vs this: ${round(serial.beforeMs / warm.beforeMs)}x`),
  ];
}
