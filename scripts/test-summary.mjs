#!/usr/bin/env node
// Adds up the JSON reports every vitest run wrote, and prints `N passed, N failed` for CI.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

function* reports(dir, depth = 0) {
  if (depth > 4) return;
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === '.git') continue;
    const p = join(dir, name);
    if (name === '.vitest-report.json') yield p;
    else if (statSync(p).isDirectory()) yield* reports(p, depth + 1);
  }
}

let passed = 0;
let failed = 0;
let skipped = 0;
for (const file of reports(process.cwd())) {
  const r = JSON.parse(readFileSync(file, 'utf8'));
  passed += r.numPassedTests ?? 0;
  failed += (r.numFailedTests ?? 0) + (r.numRuntimeErrorTestSuites ?? 0);
  skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  if ((r.numTotalTests ?? 0) === 0 && (r.numFailedTestSuites ?? 0) > 0) failed += r.numFailedTestSuites;
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
