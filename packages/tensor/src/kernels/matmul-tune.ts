import { engine } from '../runtime/engine.ts';
import type { MatmulConfig } from './matmul.ts';
import type { MatmulPlan } from './matmul-run.ts';

/**
 * Tile sizes per adapter and shape class. Without tuning a heuristic picks them (measured on lavapipe: 4 rows
 * x 4 columns per invocation, 32 invocations, is the best of the register-resident tiles; more accumulators
 * spill). autotune() times a few candidates on the real shape and remembers the winner for its class.
 */
/** Subgroup kernels (tm a multiple of 8): 16 rows x 2 columns per invocation measured best on lavapipe. */
export const SUBGROUP_CANDIDATES: readonly MatmulConfig[] = [
  { wg: 8, tm: 16, tn: 2 },
  { wg: 8, tm: 8, tn: 2 },
  { wg: 8, tm: 8, tn: 4 },
  { wg: 32, tm: 8, tn: 2 },
  { wg: 16, tm: 16, tn: 2 },
  { wg: 8, tm: 16, tn: 1 },
];

export const MATMUL_CANDIDATES: readonly MatmulConfig[] = [
  { wg: 32, tm: 4, tn: 4 },
  { wg: 8, tm: 4, tn: 4 },
  { wg: 64, tm: 4, tn: 4 },
  { wg: 32, tm: 8, tn: 2 },
  { wg: 16, tm: 8, tn: 2 },
  { wg: 64, tm: 2, tn: 4 },
];

export function candidatesFor(p: MatmulPlan): readonly MatmulConfig[] {
  return p.variant.subgroup ? SUBGROUP_CANDIDATES : MATMUL_CANDIDATES;
}

const tuned = new Map<string, Map<string, MatmulConfig>>();

/** Shapes within a factor of two (per dimension) and with the same read variant share a class. */
export function shapeClass(p: MatmulPlan): string {
  const b = (x: number) => Math.ceil(Math.log2(Math.max(x, 1)));
  const v = p.variant;
  return `${v.bHook ? 'im2col' : ''}${v.half ? 'h' : ''}${v.subgroup ? 'sg' : ''}${v.aVec4 ? 'a4' : 'a1'}${v.bVec4 ? 'b4' : 'b1'}${v.bias ? '+' : ''}:${b(p.M)}x${b(p.N)}x${b(p.K)}`;
}

function adapterCache(): Map<string, MatmulConfig> {
  // The class is part of the key: a forced class tunes its own kernels.
  const e = engine();
  const key = `${e.adapterDescription}|${e.adapterClass}`;
  let m = tuned.get(key);
  if (!m) tuned.set(key, (m = new Map()));
  return m;
}

/** Default tiles: narrow outputs get narrow workgroups, so few clamped (wasted) columns are computed. */
export function heuristicConfig(p: MatmulPlan): MatmulConfig {
  if (p.variant.subgroup) return { wg: 8, tm: p.M > 8 ? 16 : 8, tn: p.N > 8 ? 2 : 1 };
  const wg = p.N >= 96 ? 32 : 8;
  const tn = Math.max(1, Math.min(4, Math.ceil(p.N / wg)));
  const tm = tn >= 2 ? Math.min(8, Math.floor(16 / tn)) : 4;
  return { wg, tm, tn };
}

export function matmulConfig(p: MatmulPlan): MatmulConfig {
  return adapterCache().get(shapeClass(p)) ?? heuristicConfig(p);
}

export function setMatmulConfig(p: MatmulPlan, cfg: MatmulConfig): void {
  adapterCache().set(shapeClass(p), cfg);
}

export function clearMatmulTuning(): void {
  tuned.clear();
}

/** This adapter's tuned tiles by shape class, for keeping on disk (JSON-safe). */
export function exportMatmulTuning(): Record<string, MatmulConfig> {
  return Object.fromEntries(adapterCache());
}

/** Tiles measured earlier on this adapter (exportMatmulTuning's output); malformed entries are skipped. */
export function importMatmulTuning(entries: Record<string, MatmulConfig>): number {
  const m = adapterCache();
  let n = 0;
  for (const [cls, c] of Object.entries(entries)) {
    const ok = [c?.wg, c?.tm, c?.tn].every((x) => Number.isInteger(x) && x > 0) && c.wg % 8 === 0;
    if (!ok) continue;
    m.set(cls, { wg: c.wg, tm: c.tm, tn: c.tn });
    n++;
  }
  return n;
}

export interface TuneResult {
  config: MatmulConfig;
  /** Median milliseconds per candidate, in candidatesFor() order (plus the heuristic when it is not listed). */
  timings: { config: MatmulConfig; ms: number }[];
}

/**
 * Times `run(cfg)` (which must encode one matmul) for each candidate: one warm-up, then the median of `reps`
 * runs that each end with a queue sync. Stores and returns the fastest.
 */
export async function tuneMatmulPlan(p: MatmulPlan, run: (cfg: MatmulConfig) => void, reps = 2): Promise<TuneResult> {
  const e = engine();
  const list = [...candidatesFor(p)];
  const h = heuristicConfig(p);
  if (!list.some((c) => c.wg === h.wg && c.tm === h.tm && c.tn === h.tn)) list.push(h);
  const timings: TuneResult['timings'] = [];
  for (const config of list) {
    run(config);
    await e.sync();
    const ts: number[] = [];
    for (let r = 0; r < reps; r++) {
      const t0 = performance.now();
      run(config);
      await e.sync();
      ts.push(performance.now() - t0);
    }
    ts.sort((x, y) => x - y);
    timings.push({ config, ms: ts[Math.floor((ts.length - 1) / 2)] });
  }
  const best = timings.reduce((x, y) => (y.ms < x.ms ? y : x));
  setMatmulConfig(p, best.config);
  return { config: best.config, timings };
}
