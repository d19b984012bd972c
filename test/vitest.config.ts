import { defineConfig } from 'vitest/config';
import { sharedTestConfig } from '../vitest.shared.ts';

// Browser runs are long on a software adapter: minutes, not the packages' two.
export default defineConfig({
  ...sharedTestConfig,
  test: { ...sharedTestConfig.test, include: ['e2e/**/*.test.ts'], testTimeout: 600_000, hookTimeout: 600_000 },
});
