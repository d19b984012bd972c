// Is a quantity flat over a run? The least-squares slope over the second half of the samples (the first half
// holds the warm-up: pipelines, pools and JIT filling), projected over that half and compared with its level.

export interface Trend {
  /** Least-squares slope, units per 1,000 iterations. */
  slopePer1k: number;
  /** slope × the second half's span of iterations: how much it grew over that half. */
  growth: number;
  /** growth / mean level of the second half (0 when the level is 0 and nothing grew). */
  relGrowth: number;
  /** relGrowth within the bound. */
  flat: boolean;
}

/** Least-squares slope of y over x. */
export function slope(x: readonly number[], y: readonly number[]): number {
  const n = x.length;
  if (n !== y.length || n < 2) throw new Error(`slope needs two or more (x, y) pairs of equal length, got ${x.length} and ${y.length}`);
  const mx = x.reduce((a, b) => a + b, 0) / n;
  const my = y.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
  }
  if (sxx === 0) throw new Error('slope needs at least two distinct x values');
  return sxy / sxx;
}

/** The trend of `y` sampled at iterations `x`, over the samples of the second half of the run. */
export function secondHalfTrend(x: readonly number[], y: readonly number[], bound: number): Trend {
  const from = Math.floor(x.length / 2);
  const xs = x.slice(from);
  const ys = y.slice(from);
  const s = slope(xs, ys);
  const growth = s * (xs[xs.length - 1] - xs[0]);
  const level = ys.reduce((a, b) => a + b, 0) / ys.length;
  const relGrowth = level === 0 ? (growth === 0 ? 0 : Infinity) : growth / level;
  return { slopePer1k: s * 1000, growth, relGrowth, flat: relGrowth <= bound };
}
