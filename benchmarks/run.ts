// Runs benchmark suites: `npm run bench` (all) or `npm run bench -- matmul fma` (by file name in suites/).
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BenchCase, Suite } from './types.ts';

const here = fileURLToPath(new URL('.', import.meta.url));
const suitesDir = `${here}suites/`;
const resultsDir = `${here}results/`;

function table(cases: BenchCase[]): string {
  const cell = (v: number | null | undefined) => (v === null || v === undefined ? '–' : String(v));
  const lines = [
    '| case | shape | ms | GFLOP/s | peer ms | ratio | throughput | notes |',
    '|---|---|---:|---:|---:|---:|---:|---|',
  ];
  for (const c of cases) {
    const tp = c.throughput === undefined ? '–' : `${c.throughput} ${c.unit ?? ''}`.trim();
    lines.push(`| ${c.name} | ${c.shape} | ${cell(c.ms)} | ${cell(c.gflops)} | ${cell(c.peer_ms)} | ${cell(c.ratio)} | ${tp} | ${c.notes ?? ''} |`);
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const all = readdirSync(suitesDir)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => f.slice(0, -3))
    .sort();
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const unknown = wanted.filter((w) => !all.includes(w));
  if (unknown.length) throw new Error(`unknown suite(s) ${unknown.join(', ')}; available: ${all.join(', ')}`);
  const chosen = wanted.length ? all.filter((s) => wanted.includes(s)) : all;
  mkdirSync(resultsDir, { recursive: true });
  for (const name of chosen) {
    const mod = (await import(pathToFileURL(`${suitesDir}${name}.ts`).href)) as { default: Suite };
    const t0 = performance.now();
    const cases = await mod.default();
    const secs = ((performance.now() - t0) / 1000).toFixed(0);
    console.log(`\n## ${name} (${secs} s, ${cases[0]?.adapter ?? 'no cases'})\n\n${table(cases)}`);
    writeFileSync(`${resultsDir}${name}.json`, `${JSON.stringify(cases, null, 2)}\n`);
  }
}

main()
  .then(async () => {
    // Release the GPU so Node exits (suites share the engine's device).
    const { hasEngine, shutdown } = await import('@seco/tensor');
    if (hasEngine()) shutdown();
    process.exit(0);
  })
  .catch((e) => {
    console.error(e);
    process.exit(1);
  });
