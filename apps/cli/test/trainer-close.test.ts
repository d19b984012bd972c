// Closing the SeCo trainer frees every GPU buffer it made: network, gradients, AdamW moments, the divergence
// watch. Measured with the engine's live-buffer count and leak tracking around a second trainer (the first one
// pays for what the engine keeps for good: compiled pipelines, the uniform ring).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSynthetic } from '@seco/data';
import * as T from '@seco/tensor';
import { beforeAll, describe, expect, test } from 'vitest';
import { syntheticPaths } from '../src/commands/demo.ts';
import { loadConfig } from '../src/config/load.ts';
import { schedulePoint } from '../src/schedule.ts';
import { createSecoTrainer } from '../src/trainer/seco-trainer.ts';
import { TINY } from './support/tiny-config.ts';

let config: ReturnType<typeof loadConfig>['config'];

beforeAll(async () => {
  await T.init();
  const data = mkdtempSync(join(tmpdir(), 'seco-close-'));
  generateSynthetic({ outDir: join(data, 'synthetic'), count: 12, size: 32, numClasses: 5, seed: 0 });
  config = loadConfig('demo', [...syntheticPaths(data), ...TINY]).config;
});

/** A trainer that took three steps (every loss on, AdamW state made), then closed. */
async function trainAndClose(): Promise<void> {
  const t = await createSecoTrainer(config);
  for (let it = 0; it < 3; it++) await t.step(it, schedulePoint(config, it), it === 2);
  await t.close();
  await T.engine().sync();
}

describe('SecoTrainer.close', () => {
  test('frees every buffer the trainer made, AdamW state included', async () => {
    await trainAndClose();
    T.setLeakTracking(true);
    try {
      const before = T.engine().stats();
      await trainAndClose();
      const after = T.engine().stats();
      const left = T.liveTensors().map((t) => `${t.op} [${t.shape.join(', ')}]`);
      expect(left, 'tensors alive after close').toEqual([]);
      expect({ buffers: after.liveBuffers, bytes: after.liveBytes }).toEqual({ buffers: before.liveBuffers, bytes: before.liveBytes });
    } finally {
      T.setLeakTracking(false);
    }
  });
});
