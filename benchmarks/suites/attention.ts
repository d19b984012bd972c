// ViT-B self-attention (12 heads, d 64) at 224 px (197 tokens) and 448 px (785 tokens): our fused kernel next
// to TF.js WebGPU composed from matMul and softmax, as a TF.js user would write it, on the same device.
// `timeAttention` (ours alone) is also what the GPU report runs. f16 rows (f16 q, k, v, output and gradients, f32
// inside) run where the adapter has shader-f16; their TF.js peer is the f32 composition of the same shape.
import { attention, engine, init, randn, type Tensor } from '@seco/tensor';
import { tfjsPeer } from '../tfjs.ts';
import { medianMs, round } from '../timing.ts';
import type { BenchCase } from '../types.ts';

export const H = 12;
export const D = 64;
const CASES = [
  { N: 197, B: 1 },
  { N: 197, B: 4 },
  { N: 785, B: 1 },
  { N: 785, B: 4 },
];
/** f16 rows: the batch-1 cases (the f16 kernels compile again, seconds to minutes on a CPU adapter). */
const F16_CASES = CASES.filter((c) => c.B === 1);

/** 4·N²·d per head forward (two products); backward recomputes the scores and adds three more (7·N²·d). */
const flopFwd = (B: number, N: number) => 4 * B * H * N * N * D;
const flopBwd = (B: number, N: number) => 7 * B * H * N * N * D;
export const attentionFlop = (B: number, N: number, train: boolean) => flopFwd(B, N) + (train ? flopBwd(B, N) : 0);
export const repsFor = (flop: number) => (flop > 2e10 ? 2 : flop > 3e9 ? 3 : 5);

/** Ours: the fused kernel on q, k, v of (B, 12, N, 64) in `dtype`, with `train` its backward too; median of `reps`. */
export async function timeAttention(
  B: number,
  N: number,
  train: boolean,
  reps = repsFor(attentionFlop(B, N, train)),
  dtype: 'f32' | 'f16' = 'f32',
): Promise<number> {
  await init();
  const e = engine();
  const shape = [B, H, N, D];
  const [q, k, v] = [0, 1, 2].map(() => randn(shape, 0, 1, undefined, dtype).requiresGrad_(train));
  const g = randn(shape, 0, 1, undefined, dtype);
  try {
    return await medianMs(async () => {
      const y = attention(q, k, v);
      if (train) {
        y.backward(g);
        for (const t of [q, k, v]) {
          t.grad!.dispose();
          t.grad = null;
        }
      }
      y.dispose();
      await e.sync();
    }, reps);
  } finally {
    [q, k, v, g].forEach((t: Tensor) => t.dispose());
  }
}

type TF = Awaited<ReturnType<typeof tfjsPeer>>['tf'];
type T4 = import('@tensorflow/tfjs-core').Tensor;

/**
 * tfjs-core's Node bundle ships no gradient functions (the union package @tensorflow/tfjs registers them and its
 * ESM build does not load under Node here): register the three this graph needs, as tfjs-core's own sources
 * write them.
 */
function registerGrads(tf: TF): void {
  if (tf.getGradient('BatchMatMul')) return;
  tf.registerGradient({
    kernelName: 'BatchMatMul',
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, [a, b], attrs) => {
      const { transposeA: tA, transposeB: tB } = attrs as { transposeA: boolean; transposeB: boolean };
      const g = dy as T4;
      if (tA) throw new Error('BatchMatMul grad: transposeA not needed here');
      return tB
        ? { a: () => tf.matMul(g, b, false, false), b: () => tf.matMul(g, a, true, false) }
        : { a: () => tf.matMul(g, b, false, true), b: () => tf.matMul(a, g, true, false) };
    },
  });
  tf.registerGradient({
    kernelName: 'Softmax',
    outputsToSave: [true],
    gradFunc: (dy, [y], attrs) => {
      const dim = (attrs as { dim: number }).dim;
      const dyy = tf.mul(dy as T4, y);
      return { logits: () => tf.sub(dyy, tf.mul(tf.sum(dyy, [dim], true), y)) };
    },
  });
  tf.registerGradient({
    kernelName: 'Multiply',
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, [a, b]) => {
      const g = dy as T4;
      // Only tensor x scalar occurs here: the scalar's gradient sums over everything.
      const to = (x: T4, like: T4) => (x.size === like.size ? x : tf.reshape(tf.sum(x), like.shape));
      return { a: () => to(tf.mul(g, b), a), b: () => to(tf.mul(g, a), b) };
    },
  });
}

/** One table row: ours beside the peer on the same adapter, with GFLOP/s. */
function row(name: string, B: number, N: number, flop: number, ours: number, peer: number, notes: string): BenchCase {
  return {
    name,
    shape: `${B}x${H}x${N}x${D}`,
    ms: round(ours),
    gflops: round(flop / ours / 1e6),
    peer_ms: round(peer),
    ratio: round(peer / ours),
    adapter: engine().adapterDescription,
    notes,
  };
}

export default async function run(): Promise<BenchCase[]> {
  await init();
  const e = engine();
  const { tf, sync } = await tfjsPeer();
  registerGrads(tf);
  const scale = 1 / Math.sqrt(D);
  const cases: BenchCase[] = [];
  const peerMs = new Map<string, number>();
  for (const { N, B } of CASES) {
    const shape = [B, H, N, D];
    for (const train of [false, true]) {
      const flop = attentionFlop(B, N, train);
      const reps = repsFor(flop);
      const ours = await timeAttention(B, N, train, reps);

      const [tq, tk, tv] = [0, 1, 2].map(() => tf.randomNormal(shape));
      const tg = tf.randomNormal(shape);
      const f = (a: typeof tq, b: typeof tq, c: typeof tq) => tf.matMul(tf.softmax(tf.mul(tf.matMul(a, b, false, true), scale)), c);
      const grads = tf.grads((a, b, c) => f(a, b, c));
      const peer = await medianMs(async () => {
        if (train) grads([tq, tk, tv], tg).forEach((t) => t.dispose());
        else tf.tidy(() => f(tq, tk, tv)).dispose();
        await sync();
      }, reps);
      [tq, tk, tv, tg].forEach((t) => t.dispose());
      peerMs.set(`${B},${N},${train}`, peer);

      cases.push(row(`attention ${train ? 'fwd+bwd' : 'fwd'}`, B, N, flop, ours, peer, `${reps} reps; TF.js scores ${round((B * H * N * N * 4) / 2 ** 20, 1)} MiB per tensor`));
    }
  }
  if (!e.supportsF16) return cases;
  for (const { N, B } of F16_CASES) {
    for (const train of [false, true]) {
      const flop = attentionFlop(B, N, train);
      const reps = repsFor(flop);
      const ours = await timeAttention(B, N, train, reps, 'f16');
      const peer = peerMs.get(`${B},${N},${train}`)!;
      cases.push(row(`attention ${train ? 'fwd+bwd' : 'fwd'}, f16`, B, N, flop, ours, peer, `${reps} reps; fused f16 (f32 inside); peer: TF.js f32 composed`));
    }
  }
  return cases;
}
