import { defineConfig } from 'vitest/config';
import { sharedTestConfig } from '../../vitest.shared.ts';

// Still one file at a time, but each in a fresh process: every file makes its own GPU device, and this package's
// ~20 files in one process crashed it while creating the next device (lavapipe, after the mixed-precision and
// ToCo files joined). A process per file frees each device with its process.
export default defineConfig({
  ...sharedTestConfig,
  test: { ...sharedTestConfig.test, poolOptions: { forks: { singleFork: false, minForks: 1, maxForks: 1 } } },
});
