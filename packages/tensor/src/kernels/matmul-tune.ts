import { engine } from '../runtime/engine.ts';
import { type TiledGemmConfig, tiledConfigError } from './gemm-tiled.ts';
import type { MatmulConfig } from './matmul.ts';
import type { GemmConfig, MatmulPlan } from './matmul-run.ts';

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

const tiled = (bm: number, bn: number, bk: number, tm: number, tn: number): TiledGemmConfig => ({ kind: 'tiled', bm, bn, bk, tm, tn });

/**
 * GPU class: workgroup-memory tiles, 256 invocations each (64 for the smallest), f32 tiles of at most 12.3 KiB
 * (under WebGPU's guaranteed 16 KiB). Large blocks reuse each loaded element more (128x128: 8x8 per invocation,
 * 16 FMAs per shared read); small ones make enough workgroups to fill the chip on small products.
 */
export const TILED_CANDIDATES: readonly TiledGemmConfig[] = [
  tiled(64, 64, 16, 4, 4),
  tiled(128, 64, 16, 8, 4),
  tiled(64, 128, 16, 4, 8),
  tiled(128, 128, 8, 8, 8),
  tiled(32, 64, 16, 2, 4),
  tiled(64, 32, 16, 4, 2),
  tiled(32, 32, 32, 4, 4),
];

/** The tiles this device can run (workgroup memory and size limits). */
function deviceFits(c: TiledGemmConfig): boolean {
  return tiledConfigError(c, engine().limits) === null;
}

export function candidatesFor(p: MatmulPlan): readonly GemmConfig[] {
  if (engine().adapterClass === 'gpu') return TILED_CANDIDATES.filter(deviceFits);
  return p.variant.subgroup ? SUBGROUP_CANDIDATES : MATMUL_CANDIDATES;
}

const tuned = new Map<string, Map<string, GemmConfig>>();

/** Shapes within a factor of two (per dimension) and with the same read variant share a class. */
export function shapeClass(p: MatmulPlan): string {
  const b = (x: number) => Math.ceil(Math.log2(Math.max(x, 1)));
  const v = p.variant;
  return `${v.bHook ? 'im2col' : ''}${v.half ? 'h' : ''}${v.subgroup ? 'sg' : ''}${v.aVec4 ? 'a4' : 'a1'}${v.bVec4 ? 'b4' : 'b1'}${v.bias ? '+' : ''}:${b(p.M)}x${b(p.N)}x${b(p.K)}`;
}

function adapterCache(): Map<string, GemmConfig> {
  // The class is part of the key: a forced class tunes its own kernels.
  const e = engine();
  const key = `${e.adapterDescription}|${e.adapterClass}`;
  let m = tuned.get(key);
  if (!m) tuned.set(key, (m = new Map()));
  return m;
}

/**
 * GPU default: the largest block that still gives enough workgroups to occupy a big GPU (a few hundred: about
 * two per core on a 100+ core chip); narrow products get narrow blocks, so few masked rows or columns are
 * computed.
 */
export function heuristicTiledConfig(p: MatmulPlan): TiledGemmConfig {
  const batch = p.batchShape.reduce((x, y) => x * y, 1);
  const blocks = (bm: number, bn: number) => Math.ceil(p.M / bm) * Math.ceil(p.N / bn) * batch;
  const pick = (c: TiledGemmConfig) => (deviceFits(c) ? c : TILED_CANDIDATES[TILED_CANDIDATES.length - 1]);
  // Small blocks for small products, whatever the batch: a big block over a tiny matrix is mostly masked.
  if (p.M <= 32 && p.N <= 32) return pick(tiled(32, 32, 32, 4, 4));
  if (p.N <= 32) return pick(tiled(64, 32, 16, 4, 2));
  if (p.M <= 32) return pick(tiled(32, 64, 16, 2, 4));
  if (blocks(128, 128) >= 256) return pick(tiled(128, 128, 8, 8, 8));
  if (blocks(64, 64) >= 128) return pick(tiled(64, 64, 16, 4, 4));
  return pick(tiled(32, 32, 32, 4, 4));
}

/** Default tiles of the current class. CPU: narrow outputs get narrow workgroups (few clamped columns). */
export function heuristicConfig(p: MatmulPlan): GemmConfig {
  if (engine().adapterClass === 'gpu') return heuristicTiledConfig(p);
  if (p.variant.subgroup) return { wg: 8, tm: p.M > 8 ? 16 : 8, tn: p.N > 8 ? 2 : 1 };
  const wg = p.N >= 96 ? 32 : 8;
  const tn = Math.max(1, Math.min(4, Math.ceil(p.N / wg)));
  const tm = tn >= 2 ? Math.min(8, Math.floor(16 / tn)) : 4;
  return { wg, tm, tn };
}

export function matmulConfig(p: MatmulPlan): GemmConfig {
  return adapterCache().get(shapeClass(p)) ?? heuristicConfig(p);
}

/** True when this adapter class has measured (or imported) tiles for the plan's shape class. */
export function hasTunedConfig(p: MatmulPlan): boolean {
  return adapterCache().has(shapeClass(p));
}

export function setMatmulConfig(p: MatmulPlan, cfg: GemmConfig): void {
  adapterCache().set(shapeClass(p), cfg);
}

export function clearMatmulTuning(): void {
  tuned.clear();
}

/** This adapter class's tuned tiles by shape class, for keeping on disk (JSON-safe). */
export function exportMatmulTuning(): Record<string, GemmConfig> {
  return Object.fromEntries(adapterCache());
}

/** A JSON entry as the current class's kernel would take it, or null (malformed, or the other class's tiles). */
function validConfig(c: unknown): GemmConfig | null {
  if (typeof c !== 'object' || c === null) return null;
  const x = c as Record<string, unknown>;
  const int = (v: unknown): v is number => Number.isInteger(v) && (v as number) > 0;
  if (engine().adapterClass === 'gpu') {
    if (x.kind !== 'tiled' || ![x.bm, x.bn, x.bk, x.tm, x.tn].every(int)) return null;
    const t = tiled(x.bm as number, x.bn as number, x.bk as number, x.tm as number, x.tn as number);
    return tiledConfigError(t, engine().limits) === null ? t : null;
  }
  if (x.kind !== undefined || ![x.wg, x.tm, x.tn].every(int) || (x.wg as number) % 8 !== 0) return null;
  return { wg: x.wg as number, tm: x.tm as number, tn: x.tn as number };
}

/**
 * Tiles measured earlier on this adapter (exportMatmulTuning's output under the same class); malformed entries
 * and the other class's tiles (workgroup tiles under the CPU class and register tiles under the GPU class, or
 * tiles past this device's limits) are skipped.
 */
export function importMatmulTuning(entries: Record<string, unknown>): number {
  const m = adapterCache();
  let n = 0;
  for (const [cls, c] of Object.entries(entries)) {
    const ok = validConfig(c);
    if (!ok) continue;
    m.set(cls, ok);
    n++;
  }
  return n;
}

export interface TuneResult {
  config: GemmConfig;
  /** Median milliseconds per candidate, in candidatesFor() order (plus the heuristic when it is not listed). */
  timings: { config: GemmConfig; ms: number }[];
}

/** A config for reports: which kernel family and its tiles. */
export function gemmConfigLabel(c: GemmConfig): string {
  return 'kind' in c ? `tiled ${c.bm}x${c.bn}x${c.bk}, ${c.tm}x${c.tn} per invocation` : `wg${c.wg} ${c.tm}x${c.tn}`;
}

const sameConfig = (x: GemmConfig, y: GemmConfig) => JSON.stringify(x) === JSON.stringify(y);

/**
 * Times `run(cfg)` (which must encode one matmul) for each candidate: one warm-up, then the median of `reps`
 * runs that each end with a queue sync. Stores and returns the fastest.
 */
export async function tuneMatmulPlan(p: MatmulPlan, run: (cfg: GemmConfig) => void, reps = 2): Promise<TuneResult> {
  const e = engine();
  const list = [...candidatesFor(p)];
  const h = heuristicConfig(p);
  if (!list.some((c) => sameConfig(c, h))) list.push(h);
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
