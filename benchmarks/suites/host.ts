// Host cost per dispatch in a steady state: how long the CPU spends encoding one kernel launch (bind group,
// pipeline lookup, uniforms, pass commands), the figure that bounds a real GPU's throughput on small ops.
// `encodeMs − compileMs` over the dispatches of steady-state iterations (pipelines already compiled).
// HOST_BENCH_ITERS sets the timed iterations (default 9); `ms` is the median host wall time of an iteration.
// Where the thread's CPU clock is available (Linux), the same spans are also read in CPU time: on a CPU adapter
// the submitted kernels run on the same cores, and the wall time includes the encoding thread's preemption.
import { AdamW, add, engine, exp, Generator, init, mul, noGrad, randn, scope, sum, type Tensor } from '@seco/tensor';
import { VisionTransformer } from '@seco/models';
import { hostPinning, pinHostRequested } from '../pin-host.ts';
import { threadCpuClock } from '../thread-clock.ts';
import { round } from '../timing.ts';
import type { BenchCase } from '../types.ts';

const ITERS = Number(process.env.HOST_BENCH_ITERS ?? 9);

interface Window {
  dispatches: number;
  /** Median over iterations of (encodeMs − compileMs) per dispatch, in µs. */
  hostUs: number;
  /** The fastest iteration's figure (the 2 cores are shared: the minimum is the least disturbed). */
  minHostUs: number;
  /** Median over iterations of the encoding thread's CPU µs per dispatch (null without a thread CPU clock). */
  cpuUs: number | null;
  encodeMs: number;
  compileMs: number;
  submitMs: number;
  /** Median wall ms from the iteration's start to its last submit (ops, autograd and encoding). */
  wallMs: number;
  bindGroupHits: number;
  bindGroupMisses: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/** Engine counters over `iters` runs of `step` after one untimed run (each ends with a GPU sync, not timed). */
async function measure(step: () => void, iters: number): Promise<Window> {
  const e = engine();
  step();
  await e.sync();
  const first = e.stats();
  const host: number[] = [];
  const cpu: number[] = [];
  const wall: number[] = [];
  let dispatches = 0;
  for (let i = 0; i < iters; i++) {
    const s0 = e.stats();
    const t0 = performance.now();
    step();
    e.flush();
    wall.push(performance.now() - t0);
    const s1 = e.stats();
    dispatches = s1.dispatches - s0.dispatches;
    host.push((1000 * (s1.encodeMs - s0.encodeMs - (s1.compileMs - s0.compileMs))) / dispatches);
    cpu.push((1000 * (s1.encodeCpuMs - s0.encodeCpuMs)) / dispatches);
    await e.sync();
  }
  const last = e.stats();
  const d = (k: 'encodeMs' | 'compileMs' | 'submitMs' | 'bindGroupHits' | 'bindGroupMisses') => (last[k] - first[k]) / iters;
  return {
    dispatches,
    hostUs: median(host),
    minHostUs: Math.min(...host),
    cpuUs: e.hostCpuClock ? median(cpu) : null,
    encodeMs: d('encodeMs'),
    compileMs: d('compileMs'),
    submitMs: d('submitMs'),
    wallMs: median(wall),
    bindGroupHits: d('bindGroupHits'),
    bindGroupMisses: d('bindGroupMisses'),
  };
}

function row(name: string, shape: string, w: Window, notes: string): BenchCase {
  const lookups = w.bindGroupHits + w.bindGroupMisses;
  const hit = lookups > 0 ? `; bind-group cache hit rate ${round((100 * w.bindGroupHits) / lookups, 1)}%` : '';
  return {
    name,
    shape,
    ms: round(w.wallMs),
    gflops: null,
    peer_ms: null,
    ratio: null,
    adapter: engine().adapterDescription,
    throughput: round(w.hostUs, 1),
    unit: 'host µs/dispatch',
    notes: `${w.dispatches} dispatches/iteration; ${w.cpuUs === null ? 'no thread CPU clock' : `thread CPU ${round(w.cpuUs, 1)} µs/dispatch (median)`}; fastest iteration ${round(w.minHostUs, 1)} µs/dispatch; encode ${round(w.encodeMs)} ms/iteration (compile ${round(w.compileMs)}, submits ${round(w.submitMs)}); whole host iteration ${round((1000 * w.wallMs) / w.dispatches, 1)} µs/dispatch${hit}; ${notes}`,
  };
}

/** A small ViT: forward, a scalar loss over its outputs, backward, AdamW. */
async function vitStep(): Promise<BenchCase> {
  const gen = new Generator(0);
  const vit = new VisionTransformer({ imgSize: 64, patchSize: 16, embedDim: 192, depth: 2, numHeads: 3, numClasses: 0, auxLayer: -1 }, gen);
  const params = vit.parameters().filter((p) => p.requiresGrad);
  const opt = new AdamW(params, { lr: 1e-4 });
  const x = randn([2, 3, 64, 64], 0, 1, new Generator(1));
  const step = () => {
    scope(() => {
      const f = vit.forwardFeatures(x);
      const loss = add(add(sum(f.cls), sum(f.patchTokens)), sum(f.auxTokens));
      loss.backward();
    });
    opt.step();
    opt.zeroGrad();
  };
  const w = await measure(step, ITERS);
  x.dispose();
  opt.dispose();
  return row('ViT step (fwd+bwd+AdamW)', 'depth 2, dim 192, 64 px, batch 2', w, `${params.length} parameters, median of ${ITERS}`);
}

/** A chain of small elementwise ops: nothing but launch overhead. */
async function elementwiseChain(): Promise<BenchCase> {
  const n = 1024;
  const ops = 300;
  const a = randn([n], 0, 1, new Generator(2));
  const b = randn([n], 0, 1, new Generator(3));
  const step = () =>
    noGrad(() =>
      scope(() => {
        let t: Tensor = a;
        for (let i = 0; i < ops / 3; i++) t = exp(mul(add(t, b), 0.01));
      }),
    );
  const w = await measure(step, ITERS);
  a.dispose();
  b.dispose();
  return row('elementwise chain', `${ops} ops on ${n} floats`, w, `median of ${ITERS}`);
}

export default async function run(): Promise<BenchCase[]> {
  const pin = pinHostRequested() ? hostPinning() : null;
  pin?.beforeInit();
  await init();
  pin?.afterInit();
  engine().hostCpuClock = threadCpuClock();
  const rows = [await elementwiseChain(), await vitStep()];
  if (pin) for (const r of rows) r.notes += '; the encoding thread on a core of its own (SECO_PIN_HOST=1)';
  return rows;
}
