// conv2d: ViT-B patch embedding and SeCo's dilated ASPP branches, ours next to TF.js WebGPU tf.conv2d on the same
// device. TF.js gets its native NHWC/HWIO layout; ours runs NCHW/OIHW as PyTorch.
import { autotuneConv2d, backward, conv2d, engine, gemmConfigLabel, init, randn, type Tensor } from '@seco/tensor';
import { tfjsPeer } from '../tfjs.ts';
import { medianMs, round } from '../timing.ts';
import type { BenchCase } from '../types.ts';

interface Case {
  name: string;
  N: number;
  C: number;
  H: number;
  O: number;
  K: number;
  stride: number;
  dilation: number;
  /** Forward + backward (dx, dW) with a given upstream gradient, no bias, on both sides. */
  backward?: boolean;
}

const CASES: Case[] = [
  { name: 'patch embed 16x16/16 (224)', N: 1, C: 3, H: 224, O: 768, K: 16, stride: 16, dilation: 1 },
  { name: 'patch embed 16x16/16 (448)', N: 1, C: 3, H: 448, O: 768, K: 16, stride: 16, dilation: 1 },
  { name: 'ASPP 3x3 dilation 6', N: 1, C: 768, H: 28, O: 21, K: 3, stride: 1, dilation: 6 },
  { name: 'ASPP 3x3 dilation 24', N: 1, C: 768, H: 28, O: 21, K: 3, stride: 1, dilation: 24 },
  { name: 'patch embed fwd+bwd (224)', N: 1, C: 3, H: 224, O: 768, K: 16, stride: 16, dilation: 1, backward: true },
];

const outSize = (c: Case) => Math.floor((c.H + 2 * padOf(c) - c.dilation * (c.K - 1) - 1) / c.stride) + 1;
const padOf = (c: Case) => (c.stride === c.K ? 0 : c.dilation);

export default async function run(): Promise<BenchCase[]> {
  await init();
  const e = engine();
  const { tf, sync } = await tfjsPeer();
  const cases: BenchCase[] = [];
  for (const c of CASES) {
    const OH = outSize(c);
    const pad = padOf(c);
    // FLOPs of the dense GEMM (taps that land in the zero padding counted too, as both engines compute them).
    const fwdFlop = 2 * c.N * c.O * OH * OH * c.C * c.K * c.K;
    const flop = c.backward ? 3 * fwdFlop : fwdFlop;
    const reps = flop > 1e9 ? 5 : 9;
    const opts = { stride: c.stride, padding: pad, dilation: c.dilation };

    const x: Tensor = randn([c.N, c.C, c.H, c.H]);
    const w: Tensor = randn([c.O, c.C, c.K, c.K]);
    const b: Tensor | null = c.backward ? null : randn([c.O]);
    const tile = (await autotuneConv2d(x, w, b, opts)).config;
    let ours: number;
    if (c.backward) {
      x.requiresGrad_();
      w.requiresGrad_();
      const g = randn([c.N, c.O, OH, OH]);
      ours = await medianMs(async () => {
        const y = conv2d(x, w, null, opts);
        backward(y, g);
        y.dispose();
        x.grad!.dispose();
        w.grad!.dispose();
        x.grad = null;
        w.grad = null;
        await e.sync();
      }, reps);
      g.dispose();
    } else {
      ours = await medianMs(async () => {
        conv2d(x, w, b, opts).dispose();
        await e.sync();
      }, reps);
    }
    for (const t of [x, w, b]) t?.dispose();

    const tx = tf.randomNormal([c.N, c.H, c.H, c.C]) as import('@tensorflow/tfjs-core').Tensor4D;
    const tw = tf.randomNormal([c.K, c.K, c.C, c.O]) as import('@tensorflow/tfjs-core').Tensor4D;
    const tb = tf.randomNormal([c.O]);
    const tpad = pad === 0 ? 'valid' : pad;
    const conv = (a: typeof tx, f: typeof tw) => tf.conv2d(a, f, c.stride, tpad, 'NHWC', c.dilation);
    let peer: number;
    if (c.backward) {
      const tg = tf.randomNormal([c.N, OH, OH, c.O]);
      // What TF.js's own Conv2D gradient runs: the forward, Conv2DBackpropInput and Conv2DBackpropFilter.
      peer = await medianMs(async () => {
        tf.tidy(() => {
          conv(tx, tw);
          tf.conv2dTranspose(tg as typeof tx, tw, tx.shape, c.stride, 'valid');
          tf.engine().runKernel('Conv2DBackpropFilter', { x: tx, dy: tg }, { strides: c.stride, pad: 'valid', dataFormat: 'NHWC', filterShape: tw.shape });
        });
        await sync();
      }, reps);
      tg.dispose();
    } else {
      peer = await medianMs(async () => {
        tf.tidy(() => tf.add(conv(tx, tw), tb)).dispose();
        await sync();
      }, reps);
    }
    for (const t of [tx, tw, tb]) t.dispose();

    cases.push({
      name: c.name,
      shape: `${c.N}x${c.C}x${c.H}x${c.H} → ${c.O}x${OH}x${OH}, k${c.K} s${c.stride} p${pad} d${c.dilation}`,
      ms: round(ours),
      gflops: round(flop / ours / 1e6),
      peer_ms: round(peer),
      ratio: round(peer / ours),
      adapter: e.adapterDescription,
      notes: `${c.backward ? 'forward + dx + dW' : 'forward with bias'}; forward tile ${e.adapterClass}-class ${gemmConfigLabel(tile)}; ${reps} reps`,
    });
  }
  return cases;
}
