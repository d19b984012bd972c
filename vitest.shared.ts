import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { UserConfig } from 'vitest/config';

// Tests never read or write the user's cache (warm-start records would change what a cold start compiles).
const testCache = mkdtempSync(join(tmpdir(), 'seco-test-cache-'));

// One GPU device per worker process; lavapipe has two cores, so one worker at a time keeps runs steady.
export const sharedTestConfig: UserConfig = {
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'], externalConditions: ['source'] } },
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    poolOptions: { forks: { singleFork: true } },
    fileParallelism: false,
    env: { SECO_CACHE: testCache },
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default', 'json'],
    outputFile: { json: '.vitest-report.json' },
  },
};
