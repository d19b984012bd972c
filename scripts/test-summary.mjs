#!/usr/bin/env node
// Adds up the JSON reports every vitest run wrote, and prints `N passed, N failed` for CI.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';

function* reports(dir, depth = 0) {
  if (depth > 4) return;
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === '.git') continue;
    const p = join(dir, name);
    if (name === '.vitest-report.json') yield p;
    else if (statSync(p).isDirectory()) yield* reports(p, depth + 1);
  }
}

// vitest.shared.ts's per-test timeout, or the one a package's vitest.config.ts sets beside its report (the
// browser tests: minutes). A test past half of its timeout would fail on a machine twice as busy.
const SHARED_TIMEOUT_MS = 120_000;
function timeoutOf(reportFile) {
  const config = join(dirname(reportFile), 'vitest.config.ts');
  const m = existsSync(config) ? /testTimeout:\s*([\d_]+)/.exec(readFileSync(config, 'utf8')) : null;
  return m ? Number(m[1].replaceAll('_', '')) : SHARED_TIMEOUT_MS;
}
let passed = 0;
let failed = 0;
let skipped = 0;
const durations = [];
for (const file of reports(process.cwd())) {
  const r = JSON.parse(readFileSync(file, 'utf8'));
  const timeoutMs = timeoutOf(file);
  for (const suite of r.testResults ?? []) {
    for (const t of suite.assertionResults ?? []) durations.push({ ms: t.duration ?? 0, timeoutMs, name: `${suite.name.split('/').slice(-3).join('/')} > ${t.fullName}` });
  }
  passed += r.numPassedTests ?? 0;
  failed += (r.numFailedTests ?? 0) + (r.numRuntimeErrorTestSuites ?? 0);
  skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  if ((r.numTotalTests ?? 0) === 0 && (r.numFailedTestSuites ?? 0) > 0) failed += r.numFailedTestSuites;
}
// npm test leaves this marker when `npm run lint` failed (the tests still run): one failure more.
if (existsSync('.lint-failed')) {
  failed += 1;
  console.log('lint failed (npm run lint)');
}
durations.sort((a, b) => b.ms - a.ms);
console.log('slowest tests:');
for (const d of durations.slice(0, 5)) console.log(`  ${(d.ms / 1000).toFixed(1)} s  ${d.name}`);
const near = durations.filter((d) => d.ms > d.timeoutMs / 2);
for (const d of near) console.log(`over half of its ${d.timeoutMs / 1000} s timeout: ${(d.ms / 1000).toFixed(1)} s  ${d.name}`);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
