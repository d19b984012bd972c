import { launchMatmul } from '../kernels/matmul-run.ts';
import { type OperandLayout, type RecordedMatmul, startMatmulRecording, stopMatmulRecording } from '../kernels/matmul-record.ts';
import { gemmConfigLabel, hasTunedConfig, shapeClass, tuneMatmulPlan } from '../kernels/matmul-tune.ts';
import { Tensor } from '../tensor.ts';
import { zeros } from './creation.ts';

/**
 * Tuning the matmul core on a workload's own shapes: record the geometries one run of the workload launches
 * (a training iteration, say), then time the tile candidates of every shape class not tuned yet on fresh
 * buffers of the same layout. The winners are kept per adapter class (exportMatmulTuning, for disk).
 */
export { startMatmulRecording };

export interface TunedClass {
  shapeClass: string;
  config: string;
  /** Fastest and slowest candidate, milliseconds. */
  bestMs: number;
  worstMs: number;
}

export interface TuneReport {
  classes: TunedClass[];
  /** Geometries recorded whose class was already tuned. */
  skipped: number;
  ms: number;
}

/** A fresh tensor of the recorded layout (zeros: values do not change the timing). */
function operand(l: OperandLayout): { view: Tensor; base: Tensor } {
  const base = zeros([l.elements], l.dtype);
  return { view: base.view(l.shape, l.strides, l.offset, 'autotune'), base };
}

/** Stops recording and tunes every recorded shape class that has no tiles yet, one geometry per class. */
export async function tuneRecordedMatmuls(reps = 2): Promise<TuneReport> {
  const t0 = performance.now();
  const todo = new Map<string, RecordedMatmul>();
  let skipped = 0;
  for (const r of stopMatmulRecording()) {
    const cls = shapeClass(r.plan);
    if (hasTunedConfig(r.plan) || todo.has(cls)) skipped++;
    else todo.set(cls, r);
  }
  const classes: TunedClass[] = [];
  for (const [cls, r] of todo) {
    const made = [r.a, r.b, r.out, ...(r.bias ? [r.bias] : [])].map(operand);
    const [a, b, out, bias] = made.map((m) => m.view);
    try {
      const res = await tuneMatmulPlan(r.plan, (cfg) => launchMatmul('autotune', r.plan, cfg, a, b, out, bias ?? null), reps);
      const ms = res.timings.map((t) => t.ms);
      classes.push({ shapeClass: cls, config: gemmConfigLabel(res.config), bestMs: Math.min(...ms), worstMs: Math.max(...ms) });
    } finally {
      for (const m of made) {
        m.view.dispose();
        m.base.dispose();
      }
    }
  }
  return { classes, skipped, ms: performance.now() - t0 };
}
