/**
 * Learning-rate schedules as multipliers of a group's initial lr, in float64. A schedule returns null where it
 * leaves the lr unchanged, which is how SeCo's PolyWarmupAdamW behaves past max_iter.
 */
export type LrSchedule = (globalStep: number) => number | null;

export interface PolyWarmupConfig {
  warmupIter: number;
  maxIter: number;
  /** The multiplier at step 0 (SeCo's `--warmup_lr 1e-6` is this ratio). */
  warmupRatio: number;
  power: number;
}

/** SeCo `utils/optimizer.py`: the same float64 operations in the same order, so the values are bit-identical. */
export function polyWarmupMultiplier(step: number, c: PolyWarmupConfig): number | null {
  if (step < c.warmupIter) return 1 - (1 - step / c.warmupIter) * (1 - c.warmupRatio);
  if (step < c.maxIter) return (1 - step / c.maxIter) ** c.power;
  return null;
}

export function polyWarmupSchedule(c: PolyWarmupConfig): LrSchedule {
  return (step) => polyWarmupMultiplier(step, c);
}

/** The lr a run of PolyWarmupAdamW uses at `step`: past both branches it keeps the last value set. */
export function polyWarmupLr(step: number, baseLr: number, c: PolyWarmupConfig): number {
  const m = polyWarmupMultiplier(step, c);
  if (m !== null) return baseLr * m;
  const last = Math.max(c.warmupIter, c.maxIter) - 1;
  return last >= 0 ? baseLr * polyWarmupMultiplier(last, c)! : baseLr;
}

export interface CosineWarmupConfig {
  warmupIter: number;
  maxIter: number;
  /** Multiplier at step 0, ramping linearly to 1 at warmupIter. */
  warmupRatio?: number;
  /** Multiplier reached at maxIter and kept after it. */
  minRatio?: number;
}

/** Linear warmup from warmupRatio to 1, then half a cosine from 1 down to minRatio at maxIter. */
export function cosineWarmupMultiplier(step: number, c: CosineWarmupConfig): number {
  const r0 = c.warmupRatio ?? 0;
  const rMin = c.minRatio ?? 0;
  if (step < c.warmupIter) return r0 + (1 - r0) * (step / c.warmupIter);
  if (step >= c.maxIter) return rMin;
  const t = (step - c.warmupIter) / (c.maxIter - c.warmupIter);
  return rMin + (1 - rMin) * 0.5 * (1 + Math.cos(Math.PI * t));
}

export function cosineWarmupSchedule(c: CosineWarmupConfig): LrSchedule {
  if (!(c.maxIter > c.warmupIter)) throw new Error(`cosine schedule: maxIter (${c.maxIter}) must exceed warmupIter (${c.warmupIter})`);
  return (step) => cosineWarmupMultiplier(step, c);
}
