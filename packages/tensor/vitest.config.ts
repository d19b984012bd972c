import { defineConfig } from 'vitest/config';
import { sharedTestConfig } from '../../vitest.shared.ts';

// Every keyed dispatch also builds its WGSL and checks that the key names exactly that program.
export default defineConfig({ ...sharedTestConfig, test: { ...sharedTestConfig.test, env: { ...sharedTestConfig.test?.env, SECO_CHECK_KERNEL_KEYS: '1' } } });
