// Runs one report case in this process (the report gives each case a process of its own, see run-case.ts).
import { engine } from '@seco/tensor';
import { measureSecoStep } from '../seco-step/measure.ts';
import { attentionFlop, timeAttention } from '../suites/attention.ts';
import { fmaCeiling } from '../suites/fma.ts';
import { matmulFlop, timeMatmul } from '../suites/matmul.ts';
import { timeVit } from '../suites/vit.ts';
import { adapterReport } from './adapter.ts';
import type { ReportCase } from './cases.ts';

export interface CaseMeasurement {
  /** The timed figure: median wall milliseconds per run, each ending with a GPU sync; null for the adapter. */
  ms: number | null;
  /** Floating-point operations of one run, when they are counted. */
  flop: number | null;
  /** Wall milliseconds of the first run (pipeline compilation included), where the case times it apart. */
  firstMs?: number;
  /** Overrides the case's shape in words (the seco-step case knows its sizes only once it ran). */
  shape?: string;
  notes: string;
  detail?: unknown;
}

export async function measureCase(c: ReportCase, dataDir: string): Promise<CaseMeasurement> {
  switch (c.kind) {
    case 'adapter': {
      const a = await adapterReport();
      return { ms: null, flop: null, notes: a.description, detail: a };
    }
    case 'fma': {
      const f = await fmaCeiling();
      return { ms: f.ms, flop: f.gflops * f.ms * 1e6, notes: `${64 * f.groups} invocations x ${f.iters} iterations`, detail: f };
    }
    case 'matmul': {
      const r = await timeMatmul(c.shape);
      return { ms: r.ms, flop: matmulFlop(c.shape), notes: `tile ${r.tile}` };
    }
    case 'attention':
      if (c.dtype === 'f16' && !engine().supportsF16) throw new Error('the adapter has no shader-f16');
      return {
        ms: await timeAttention(c.B, c.N, c.backward, undefined, c.dtype ?? 'f32'),
        flop: attentionFlop(c.B, c.N, c.backward),
        notes: c.dtype === 'f16' ? 'fused kernel, f16 storage, f32 arithmetic' : 'fused kernel',
      };
    case 'vit': {
      const r = await timeVit(c.config, c.batch, c.size, c.backward);
      return { ms: r.ms, flop: r.flop, firstMs: r.firstMs, notes: `first call ${r.firstMs.toFixed(0)} ms (compiles)` };
    }
    case 'seco-step': {
      const r = await measureSecoStep({ ...c.step, dataDir });
      const w = r.warm ?? r.cold; // the report asks for timed iterations; a cold-only run reports the cold one
      return {
        ms: w.wallMs,
        flop: null,
        firstMs: r.cold.wallMs,
        shape: `${r.batch}x3x${r.crop}x${r.crop}`,
        notes: `cold ${r.cold.wallMs.toFixed(0)} ms; ${w.dispatches} dispatches, host ${w.hostUsPerDispatch.toFixed(1)} µs each, queue idle ${w.queueIdleMs.toFixed(0)} ms`,
        detail: r,
      };
    }
  }
}
