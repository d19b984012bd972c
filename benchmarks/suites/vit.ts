// ViT-B/16 (SeCo's backbone) forward and forward+backward, ours next to the same model in TF.js WebGPU: same
// random weights, same adapter, same process. First-call rows include pipeline compilation. `timeVit` (ours
// alone, any ViT shape) is also what the GPU report runs.
import { add, engine, Generator, init, noGrad, randn, sum, type Tensor } from '@seco/tensor';
import { resizePosEmbed, type ViTConfig, VisionTransformer, VIT_B16 } from '@seco/models';
import { tfjsPeer } from '../tfjs.ts';
import { tfVitForward, tfVitWeights } from '../tfjs-vit.ts';
import { medianMs, round } from '../timing.ts';
import type { BenchCase } from '../types.ts';

interface Run {
  name: string;
  batch: number;
  size: number;
  backward: boolean;
  /**
   * Time TF.js too. On lavapipe it needs 30-60 s per 224 image forward, so the big forwards skip it; and
   * tfjs-core's Node bundle registers no gradient functions (a whole ViT would need about fifteen written by
   * hand), so there is no TF.js backward.
   */
  peer: boolean;
}

const FULL = process.env.VIT_BENCH_FULL === '1';
// About 35 GFLOP per 224 image forward: two timed runs after the first call keep the suite to minutes on lavapipe.
const RUNS: Run[] = [
  { name: 'ViT-B/16 forward', batch: 1, size: 224, backward: false, peer: true },
  { name: 'ViT-B/16 forward', batch: 4, size: 224, backward: false, peer: FULL },
  { name: 'ViT-B/16 forward', batch: 1, size: 448, backward: false, peer: FULL },
  { name: 'ViT-B/16 forward+backward', batch: 1, size: 224, backward: true, peer: false },
];
const REPS = 2;

/** Multiply-adds ×2 of one forward: the linears (qkv, proj, MLP), q·kᵀ and attn·v, and the patch conv. */
export function forwardFlop(batch: number, size: number, c: ViTConfig = VIT_B16): number {
  const { embedDim: D, depth, patchSize: p, mlpRatio: r, inChans } = c;
  const n = (size / p) ** 2;
  const t = n + 1;
  return batch * (depth * (2 * (4 + 2 * r) * t * D * D + 4 * t * t * D) + 2 * n * D * inChans * p * p);
}

/** One forward (no grad) or forward+backward of `vit` on `x`, ending with a GPU sync. */
export function vitRun(vit: VisionTransformer, x: Tensor, backward: boolean): () => Promise<void> {
  return async () => {
    if (backward) {
      const f = vit.forwardFeatures(x);
      const loss = add(add(sum(f.cls), sum(f.patchTokens)), sum(f.auxTokens));
      loss.backward();
      for (const t of [f.cls, f.patchTokens, f.auxTokens, loss]) t.dispose();
      vit.zeroGrad();
    } else {
      const f = noGrad(() => vit.forwardFeatures(x));
      for (const t of [f.cls, f.patchTokens, f.auxTokens]) t.dispose();
    }
    await engine().sync();
  };
}

/** Ours alone: a random ViT of shape `config`, its first call (compiles) and the median of `reps` after it. */
export async function timeVit(config: ViTConfig, batch: number, size: number, backward: boolean, reps = REPS): Promise<{ firstMs: number; ms: number; flop: number }> {
  await init();
  const vit = new VisionTransformer(config, new Generator(0));
  const x = randn([batch, config.inChans, size, size], 0, 1, new Generator(1));
  try {
    const run = vitRun(vit, x, backward);
    const firstMs = await timeFirst(run);
    const ms = await medianMs(run, reps, 0);
    return { firstMs, ms, flop: forwardFlop(batch, size, config) * (backward ? 3 : 1) };
  } finally {
    x.dispose();
    vit.dispose();
  }
}

/** Progress on stderr: the suite takes minutes on a CPU adapter and prints its table only at the end. */
const progress = (msg: string) => console.error(`[vit ${new Date().toISOString().slice(11, 19)}] ${msg}`);

async function timeFirst(run: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await run();
  return performance.now() - t0;
}

export default async function run(): Promise<BenchCase[]> {
  await init();
  const e = engine();
  const { tf, sync } = await tfjsPeer();
  const vit = new VisionTransformer(VIT_B16, new Generator(0));
  const host: Record<string, { shape: readonly number[]; data: Float32Array }> = {};
  for (const [k, t] of Object.entries(vit.stateDict())) host[k] = { shape: t.shape, data: (await t.data()) as Float32Array };
  const tw = tfVitWeights(tf, host);
  const shape = { patch: VIT_B16.patchSize, embedDim: VIT_B16.embedDim, depth: VIT_B16.depth, numHeads: VIT_B16.numHeads, eps: VIT_B16.eps };
  const g = VIT_B16.imgSize / VIT_B16.patchSize;
  const cases: BenchCase[] = [];

  for (const r of RUNS) {
    const x: Tensor = randn([r.batch, 3, r.size, r.size], 0, 1, new Generator(1));
    const xh = (await x.data()) as Float32Array;
    const tx = tf.tensor(xh, [r.batch, 3, r.size, r.size]);
    const h = r.size / VIT_B16.patchSize;
    const posT = noGrad(() => resizePosEmbed(vit.posEmbed, [g, g], h, h));
    const tpos = tf.tensor((await posT.data()) as Float32Array, [...posT.shape]);
    posT.dispose();

    const ours = vitRun(vit, x, r.backward);
    const peer = async () => {
      tf.dispose(Object.values(tf.tidy(() => tfVitForward(tf, tw, shape, tx, tpos))));
      await sync();
    };

    const label = `${r.name} ${r.batch}x${r.size}`;
    const firstOurs = await timeFirst(ours);
    progress(`${label}: ours first call ${round(firstOurs)} ms`);
    const msOurs = await medianMs(ours, REPS, 0);
    progress(`${label}: ours ${round(msOurs)} ms`);
    let firstPeer: number | null = null;
    let msPeer: number | null = null;
    if (r.peer) {
      firstPeer = await timeFirst(peer);
      progress(`${label}: TF.js first call ${round(firstPeer)} ms`);
      // One timed TF.js run: each takes 30-60 s on lavapipe.
      msPeer = await medianMs(peer, 1, 0);
      progress(`${label}: TF.js ${round(msPeer)} ms`);
    }

    // Same model on both sides: compare the cls tokens once per forward case.
    let check = '';
    if (!r.backward && r.peer) {
      const f = noGrad(() => vit.forwardFeatures(x));
      const a = await f.cls.data();
      for (const t of [f.cls, f.patchTokens, f.auxTokens]) t.dispose();
      const o = tf.tidy(() => tfVitForward(tf, tw, shape, tx, tpos));
      const b = await o.cls.data();
      tf.dispose(Object.values(o));
      let m = 0;
      for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
      check = `; max |cls ours − TF.js| ${m.toExponential(1)}`;
    }
    x.dispose();
    tf.dispose([tx, tpos]);

    const flop = forwardFlop(r.batch, r.size) * (r.backward ? 3 : 1);
    const shapeStr = `${r.batch}x3x${r.size}x${r.size}`;
    cases.push({
      name: `${r.name}, first call`,
      shape: shapeStr,
      ms: round(firstOurs),
      gflops: null,
      peer_ms: firstPeer === null ? null : round(firstPeer),
      ratio: firstPeer === null ? null : round(firstPeer / firstOurs),
      adapter: e.adapterDescription,
      notes: 'includes pipeline compilation (fresh shapes; the first row also compiles every kernel)',
    });
    cases.push({
      name: r.name,
      shape: shapeStr,
      ms: round(msOurs),
      gflops: round(flop / msOurs / 1e6),
      peer_ms: msPeer === null ? null : round(msPeer),
      ratio: msPeer === null ? null : round(msPeer / msOurs),
      adapter: e.adapterDescription,
      notes: `${round(flop / 1e9, 1)} GFLOP${r.backward ? ' (≈3× forward)' : ''}; ours median of ${REPS}${r.peer ? ', TF.js 1 run' : r.backward ? ', no TF.js backward (no gradients in its Node bundle)' : ', TF.js skipped (VIT_BENCH_FULL=1 runs it)'}${check}`,
    });
  }
  tf.dispose(Object.values(tw));
  vit.dispose();
  return cases;
}
