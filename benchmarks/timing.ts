/**
 * Wall time of `run` (which must end with a real GPU sync): `warmup` untimed runs, then the median of `reps`.
 * Wall time, not GPU timestamps, so both engines are measured the same way, overheads included.
 */
export async function medianMs(run: () => Promise<void>, reps: number, warmup = 1): Promise<number> {
  for (let i = 0; i < warmup; i++) await run();
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await run();
    ts.push(performance.now() - t0);
  }
  ts.sort((a, b) => a - b);
  const mid = ts.length >> 1;
  return ts.length % 2 ? ts[mid] : (ts[mid - 1] + ts[mid]) / 2;
}

export const round = (x: number, digits = 2): number => Number(x.toFixed(digits));
