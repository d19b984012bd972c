// A checkpoint as seco train writes it, holding a randomly initialised network of the config's size (seed 0).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as T from '@seco/tensor';
import { CheckpointManager } from '../../src/checkpoint/manager.ts';
import { composeTrainState } from '../../src/checkpoint/train-state.ts';
import type { SecoConfig } from '../../src/config/schema.ts';
import { networkFromConfig } from '../../src/trainer/seco-trainer.ts';

export async function randomCheckpoint(config: SecoConfig): Promise<string> {
  T.manualSeed(0);
  const net = networkFromConfig(config);
  try {
    const dir = mkdtempSync(join(tmpdir(), 'seco-cli-ckpt-'));
    return await new CheckpointManager(dir, { keep: 1 }).save(0, composeTrainState({ modules: { model: net } }), config as never);
  } finally {
    net.dispose();
  }
}
