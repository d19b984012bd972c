// LayerNorm and softmax at ViT-B shapes, ours next to TF.js WebGPU written the way a TF.js user would
// (tf.moments-based layer norm, tf.softmax), on the same device. Forward only.
import { engine, init, layerNorm, randn, softmax, type Tensor } from '@seco/tensor';
import { tfjsPeer } from '../tfjs.ts';
import { medianMs, round } from '../timing.ts';
import type { BenchCase } from '../types.ts';

const EPS = 1e-6;
const LN_SHAPES = [
  [4, 197, 768],
  [4, 785, 768],
];
const SOFTMAX_SHAPES = [
  [12, 197, 197],
  [12, 785, 785],
];

export default async function run(): Promise<BenchCase[]> {
  await init();
  const e = engine();
  const { tf, sync } = await tfjsPeer();
  const cases: BenchCase[] = [];
  const push = (name: string, shape: number[], ours: number, peer: number, bytes: number, reps: number) =>
    cases.push({
      name,
      shape: shape.join('x'),
      ms: round(ours, 3),
      gflops: null,
      peer_ms: round(peer, 3),
      ratio: round(peer / ours),
      adapter: e.adapterDescription,
      throughput: round(bytes / ours / 1e6, 2),
      unit: 'GB/s (one read + one write)',
      notes: `${reps} reps`,
    });

  for (const shape of LN_SHAPES) {
    const C = shape[2];
    const reps = 9;
    const [x, w, b] = [randn(shape), randn([C]), randn([C])];
    const ours = await medianMs(async () => {
      layerNorm(x, C, w, b, EPS).dispose();
      await e.sync();
    }, reps);
    [x, w, b].forEach((t: Tensor) => t.dispose());
    const [tx, tw, tb] = [tf.randomNormal(shape), tf.randomNormal([C]), tf.randomNormal([C])];
    const peer = await medianMs(async () => {
      tf.tidy(() => {
        const { mean, variance } = tf.moments(tx, -1, true);
        return tf.add(tf.mul(tf.div(tf.sub(tx, mean), tf.sqrt(tf.add(variance, EPS))), tw), tb);
      }).dispose();
      await sync();
    }, reps);
    [tx, tw, tb].forEach((t) => t.dispose());
    push('layer norm (affine)', shape, ours, peer, 8 * shape.reduce((p, q) => p * q, 1), reps);
  }

  for (const shape of SOFTMAX_SHAPES) {
    const reps = 9;
    const x = randn(shape);
    const ours = await medianMs(async () => {
      softmax(x, -1).dispose();
      await e.sync();
    }, reps);
    x.dispose();
    const tx = tf.randomNormal(shape);
    const peer = await medianMs(async () => {
      tf.softmax(tx).dispose();
      await sync();
    }, reps);
    tx.dispose();
    push('softmax (last dim)', shape, ours, peer, 8 * shape.reduce((p, q) => p * q, 1), reps);
  }
  return cases;
}
