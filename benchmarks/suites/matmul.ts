// f32 matmul at 1024³, 4096³ and ViT-B shapes, ours next to TF.js WebGPU on the same device; f16 rows (f16
// storage, f32 accumulation) where the adapter has shader-f16, their peer still TF.js f32. `timeMatmul` (ours
// alone) is also what the GPU report runs.
import { autotuneMatmul, engine, gemmConfigLabel, init, matmul, randn, type Tensor } from '@seco/tensor';
import { tfjsPeer } from '../tfjs.ts';
import { medianMs, round } from '../timing.ts';
import type { BenchCase } from '../types.ts';
import { cachedFmaCeiling } from './fma.ts';

export interface MatmulShape {
  name: string;
  batch: number;
  M: number;
  K: number;
  N: number;
  /** B given as [N, K] and used transposed (attention q·kᵀ). */
  transposeB?: boolean;
  dtype?: 'f16';
}

export const SHAPES: MatmulShape[] = [
  { name: 'square', batch: 1, M: 1024, K: 1024, N: 1024 },
  { name: 'square', batch: 1, M: 4096, K: 4096, N: 4096 },
  { name: 'vit-b qkv (224)', batch: 1, M: 197, K: 768, N: 2304 },
  { name: 'vit-b mlp fc1 (224)', batch: 1, M: 197, K: 768, N: 3072 },
  { name: 'vit-b mlp fc2 (224)', batch: 1, M: 197, K: 3072, N: 768 },
  { name: 'vit-b mlp fc1 (448)', batch: 1, M: 785, K: 768, N: 3072 },
  { name: 'vit-b mlp fc2 (448)', batch: 1, M: 785, K: 3072, N: 768 },
  { name: 'vit-b attention q·kᵀ, 12 heads', batch: 12, M: 197, K: 64, N: 197, transposeB: true },
  { name: 'square, f16', batch: 1, M: 1024, K: 1024, N: 1024, dtype: 'f16' },
  { name: 'vit-b mlp fc1 (224), f16', batch: 1, M: 197, K: 768, N: 3072, dtype: 'f16' },
];

export const matmulFlop = (s: MatmulShape): number => 2 * s.batch * s.M * s.N * s.K;
export const matmulShapeLabel = (s: MatmulShape): string => `${s.batch > 1 ? `${s.batch}x` : ''}${s.M}x${s.K}x${s.N}${s.transposeB ? ' (Bᵀ)' : ''}`;

/** Fewer repetitions for big problems keep the suite within a few minutes on a CPU adapter. */
export const repsFor = (flop: number) => (flop > 3e9 ? 3 : flop > 5e8 ? 5 : 9);

const operandShapes = (s: MatmulShape) => {
  const lead = s.batch > 1 ? [s.batch] : [];
  return { a: [...lead, s.M, s.K], b: s.transposeB ? [...lead, s.N, s.K] : [...lead, s.K, s.N] };
};

/** Ours: autotuned tiles, then the median of `reps` runs, each ending with a GPU sync. */
export async function timeMatmul(s: MatmulShape, reps = repsFor(matmulFlop(s))): Promise<{ ms: number; tile: string }> {
  await init();
  const e = engine();
  const shapes = operandShapes(s);
  const a: Tensor = randn(shapes.a, 0, 1, undefined, s.dtype);
  const b: Tensor = randn(shapes.b, 0, 1, undefined, s.dtype);
  try {
    const opts = { transposeB: s.transposeB === true };
    const { config: c } = await autotuneMatmul(a, b, opts);
    const ms = await medianMs(async () => {
      matmul(a, b, opts).dispose();
      await e.sync();
    }, reps);
    // Which kernel family ran: workgroup tiles (GPU class) or register blocks (CPU class).
    return { ms, tile: `${e.adapterClass}-class ${gemmConfigLabel(c)}` };
  } finally {
    a.dispose();
    b.dispose();
  }
}

export default async function run(): Promise<BenchCase[]> {
  await init();
  const e = engine();
  const ceiling = await cachedFmaCeiling();
  const { tf, sync } = await tfjsPeer();
  const cases: BenchCase[] = [];
  for (const s of SHAPES) {
    if (s.dtype === 'f16' && !e.supportsF16) continue;
    const flop = matmulFlop(s);
    const reps = repsFor(flop);
    const { ms: ours, tile } = await timeMatmul(s, reps);

    const shapes = operandShapes(s);
    const ta = tf.randomNormal(shapes.a);
    const tb = tf.randomNormal(shapes.b);
    const peer = await medianMs(async () => {
      tf.matMul(ta, tb, false, s.transposeB === true).dispose();
      await sync();
    }, reps);
    ta.dispose();
    tb.dispose();

    const gflops = flop / ours / 1e6;
    cases.push({
      name: s.name,
      shape: matmulShapeLabel(s),
      ms: round(ours),
      gflops: round(gflops),
      peer_ms: round(peer),
      ratio: round(peer / ours),
      adapter: e.adapterDescription,
      notes: `${round((100 * gflops) / ceiling, 0)}% of FMA ceiling; tile ${tile}; ${reps} reps`,
    });
  }
  return cases;
}
