// A soak report as the samples table and one benchmark row per watched quantity, each with its second-half trend.
import { round } from '../timing.ts';
import type { BenchCase } from '../types.ts';
import type { SoakReport, SoakSample } from './measure.ts';
import { secondHalfTrend, type Trend } from './trend.ts';

const MiB = 2 ** 20;

/** The quantities watched, with how much each may grow over the second half relative to its level. */
export const WATCHED = [
  { key: 'liveBuffers', label: 'live GPU buffers', unit: '', scale: 1, bound: 0.01 },
  { key: 'liveBytes', label: 'live GPU memory', unit: ' MiB', scale: MiB, bound: 0.01 },
  { key: 'pooledBytes', label: 'pooled GPU memory', unit: ' MiB', scale: MiB, bound: 0.05 },
  { key: 'rss', label: 'process RSS', unit: ' MiB', scale: MiB, bound: 0.05 },
  { key: 'heapUsed', label: 'V8 heap used', unit: ' MiB', scale: MiB, bound: 0.05 },
] as const satisfies readonly { key: keyof SoakSample; label: string; unit: string; scale: number; bound: number }[];

export function soakTrends(r: SoakReport): Record<(typeof WATCHED)[number]['key'], Trend> {
  const x = r.samples.map((s) => s.iteration);
  return Object.fromEntries(WATCHED.map((w) => [w.key, secondHalfTrend(x, r.samples.map((s) => s[w.key]), w.bound)])) as Record<(typeof WATCHED)[number]['key'], Trend>;
}

export function samplesTable(r: SoakReport): string {
  const lines = ['| iteration | live buffers | live MiB | pooled MiB | RSS MiB | heap MiB | ms/it |', '|---:|---:|---:|---:|---:|---:|---:|'];
  for (const s of [r.start, ...r.samples]) {
    lines.push(`| ${s.iteration} | ${s.liveBuffers} | ${round(s.liveBytes / MiB, 1)} | ${round(s.pooledBytes / MiB, 1)} | ${round(s.rss / MiB, 0)} | ${round(s.heapUsed / MiB, 1)} | ${round(s.msPerIteration, 0)} |`);
  }
  return lines.join('\n');
}

export function soakRows(r: SoakReport): BenchCase[] {
  const trends = soakTrends(r);
  const mid = r.samples.slice(Math.floor(r.samples.length / 2));
  const msPerIt = mid.reduce((a, s) => a + s.msPerIteration, 0) / mid.length;
  const shape = `demo ${r.batch}x3x${r.crop}x${r.crop}, ViT ${r.depth}x${r.embedDim}, ${r.options.iterations} it`;
  return WATCHED.map((w, i) => {
    const t = trends[w.key];
    const first = r.samples[0][w.key] / w.scale;
    const last = r.samples[r.samples.length - 1][w.key] / w.scale;
    return {
      name: `soak: ${w.label}`,
      shape,
      ms: round(msPerIt, 1),
      gflops: null,
      peer_ms: null,
      ratio: null,
      adapter: r.adapter,
      notes:
        `${t.flat ? 'flat' : 'GROWS'}: ${round(first, 1)}${w.unit} at it ${r.samples[0].iteration} -> ${round(last, 1)}${w.unit} at it ${r.options.iterations}; ` +
        `second half ${t.growth >= 0 ? '+' : ''}${round(t.growth / w.scale, 2)}${w.unit} (${round(100 * t.relGrowth, 2)}% of its level, bound ${100 * w.bound}%)`,
      detail: i === 0 ? { ...r, trends } : undefined,
    };
  });
}
