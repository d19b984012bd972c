// init() after shutdown() many times in one process (test files, a page that reloads its model): each cycle frees
// its device, and nothing it leaves behind grows, such as the threads of a fresh Dawn instance per cycle.
import { readdirSync } from 'node:fs';
import { afterAll, describe, expect, test } from 'vitest';
import * as T from '../src/index.ts';

const threads = () => readdirSync('/proc/self/task').length;

afterAll(async () => {
  await T.init();
});

describe('engine lifecycle', () => {
  test('init / shutdown cycles keep the thread count flat and each new engine computes', async () => {
    const cycle = async () => {
      await T.init();
      const y = await T.matmul(T.tensor([1, 2, 3, 4], [2, 2]), T.tensor([5, 6, 7, 8], [2, 2])).data();
      expect(Array.from(y)).toEqual([19, 22, 43, 50]);
      T.shutdown();
    };
    await cycle();
    const before = threads();
    for (let i = 0; i < 8; i++) await cycle();
    // Before one Dawn instance served every cycle, each left 5 threads behind on lavapipe (40 here).
    expect(threads() - before).toBeLessThanOrEqual(2);
  });
});
