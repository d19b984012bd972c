// The adapter's practical f32 ceiling: a pure-FMA kernel, 4 independent vec4 chains per invocation (enough
// independent work to hide FMA latency, few enough registers that nothing spills).
import { engine, init, Tensor } from '@seco/tensor';
import { medianMs, round } from '../timing.ts';
import type { BenchCase } from '../types.ts';

const WG = 64;
/** The start size (2048 workgroups x 512 iterations, 2.1 GFLOP) takes tens of ms on a CPU adapter. */
const GROUPS = 2048;
const ITERS = 512;
/** A fast GPU finishes that in a fraction of a millisecond: the probe grows until one run takes this long. */
const MIN_MS = 20;
/** A million invocations fill any current GPU. */
const MAX_GROUPS = 16384;
const FLOPS_PER_ITER = 4 * 4 * 2; // 4 chains x vec4 x (mul + add)

const CODE = /* wgsl */ `
@group(0) @binding(0) var<storage, read_write> out: array<vec4<f32>>;
struct U { iters: u32, m: f32, c: f32, pad: u32 };
@group(0) @binding(1) var<uniform> u: U;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let s = f32(gid.x) * 1e-7;
  var a0 = vec4<f32>(s, s + 0.1, s + 0.2, s + 0.3);
  var a1 = a0 + 1.0;
  var a2 = a0 + 2.0;
  var a3 = a0 + 3.0;
  let m = vec4<f32>(u.m);
  let c = vec4<f32>(u.c);
  for (var i = 0u; i < u.iters; i++) {
    a0 = fma(a0, m, c);
    a1 = fma(a1, m, c);
    a2 = fma(a2, m, c);
    a3 = fma(a3, m, c);
  }
  out[gid.x] = a0 + a1 + a2 + a3;
}`;

let cached: number | null = null;

async function probeMs(groups: number, iters: number, reps: number): Promise<number> {
  const e = engine();
  const out = Tensor.empty([WG * groups * 4], 'f32', 'fma-probe');
  const uniforms = new ArrayBuffer(16);
  new Uint32Array(uniforms, 0, 1)[0] = iters;
  new Float32Array(uniforms, 4, 2).set([0.999, 0.001]);
  try {
    return await medianMs(async () => {
      e.dispatch({ label: 'fma-probe', code: CODE, buffers: [out.buffer], uniforms: new Uint8Array(uniforms), workgroups: groups });
      await e.sync();
    }, reps);
  } finally {
    out.dispose();
  }
}

/** GFLOP/s of the FMA probe on this adapter, measured once per process. */
export async function fmaCeiling(): Promise<{ gflops: number; ms: number; groups: number; iters: number }> {
  await init();
  let [groups, iters] = [GROUPS, ITERS];
  for (let ms = await probeMs(groups, iters, 1); ms < MIN_MS; ms = await probeMs(groups, iters, 1)) {
    const grow = Math.min(64, Math.ceil((2 * MIN_MS) / Math.max(ms, 0.05)));
    if (groups < MAX_GROUPS) groups = Math.min(MAX_GROUPS, groups * grow);
    else iters *= grow;
  }
  const ms = await probeMs(groups, iters, 7);
  const gflops = (WG * groups * iters * FLOPS_PER_ITER) / ms / 1e6;
  cached = gflops;
  return { gflops, ms, groups, iters };
}

export async function cachedFmaCeiling(): Promise<number> {
  return cached ?? (await fmaCeiling()).gflops;
}

export default async function run(): Promise<BenchCase[]> {
  const { gflops, ms, groups, iters } = await fmaCeiling();
  return [
    {
      name: 'fma ceiling (4 vec4 chains/invocation)',
      shape: `${WG * groups} invocations x ${iters} iterations`,
      ms: round(ms),
      gflops: round(gflops),
      peer_ms: null,
      ratio: null,
      adapter: engine().adapterDescription,
    },
  ];
}
