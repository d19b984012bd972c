// ViT-B/16 forward+backward at SeCo's training size with and without grad checkpointing (timm's
// set_grad_checkpointing): wall time and the peak GPU memory of the step. CKPT_BENCH_BATCH and CKPT_BENCH_SIZE
// (default 4 and 448, the voc preset's batch and crop) pick the shape.
import { engine, Generator, init, randn } from '@seco/tensor';
import { VisionTransformer, VIT_B16 } from '@seco/models';
import { medianMs, round } from '../timing.ts';
import type { BenchCase } from '../types.ts';
import { forwardFlop, vitRun } from './vit.ts';

function envInt(name: string, fallback: number): number {
  const v = process.env[name];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got '${v}'`);
  return n;
}

const MiB = 1024 * 1024;
const progress = (msg: string) => console.error(`[grad-checkpoint ${new Date().toISOString().slice(11, 19)}] ${msg}`);

export default async function run(): Promise<BenchCase[]> {
  const batch = envInt('CKPT_BENCH_BATCH', 4);
  const size = envInt('CKPT_BENCH_SIZE', 448);
  await init();
  const e = engine();
  const adapter = e.adapterDescription;
  const vit = new VisionTransformer(VIT_B16, new Generator(0));
  const x = randn([batch, 3, size, size], 0, 1, new Generator(1));
  const cases: BenchCase[] = [];
  try {
    for (const ckpt of [false, true]) {
      vit.gradCheckpointing = ckpt;
      const step = vitRun(vit, x, true);
      const label = `ViT-B/16 forward+backward${ckpt ? ', grad checkpointing' : ''}`;
      // The first call compiles (both settings launch the same kernels); the timed call's peak is measured alone.
      await step();
      e.resetPeakMemory();
      const base = e.stats().liveBytes;
      const ms = await medianMs(step, 1, 0);
      const peak = e.stats().peakLiveBytes - base;
      progress(`${label}: ${round(ms)} ms, peak ${round(peak / MiB)} MiB above the weights and input`);
      const flop = forwardFlop(batch, size) * (ckpt ? 4 : 3);
      cases.push({
        name: label,
        shape: `${batch}x3x${size}x${size}`,
        ms: round(ms),
        gflops: round(flop / ms / 1e6),
        peer_ms: null,
        ratio: null,
        adapter,
        notes: `peak GPU memory of the step ${round(peak / MiB)} MiB above the weights and input (${round(base / MiB)} MiB)`,
        detail: { batch, size, gradCheckpointing: ckpt, peakBytes: peak, baseBytes: base },
      });
    }
  } finally {
    x.dispose();
    vit.dispose();
  }
  return cases;
}
