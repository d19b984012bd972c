// seco eval and seco infer on the checkpoint of a diverged run (a NaN in one tensor): exit code 1 and one line
// naming the file and the tensor, before any image is read.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SECO_CHECKPOINT_FORMAT } from '@seco/models';
import * as T from '@seco/tensor';
import { beforeAll, describe, expect, test } from 'vitest';
import { loadConfig } from '../src/config/load.ts';
import { main } from '../src/main.ts';
import { randomCheckpoint } from './support/random-checkpoint.ts';
import { VOC_SAMPLE_SETS, vocSample } from './support/voc-sample.ts';

const sets = VOC_SAMPLE_SETS;
const voc = vocSample;
const { config } = loadConfig('demo', [...sets]);
const tmp = () => mkdtempSync(join(tmpdir(), 'seco-cli-nan-'));
const BAD = 'model.classifier.weight';

let checkpoint = '';

beforeAll(async () => {
  await T.init();
  // A checkpoint as seco train writes it, then one element of one tensor made NaN on the host.
  const good = await randomCheckpoint(config);
  const ck = await T.loadCheckpoint(good, { format: SECO_CHECKPOINT_FORMAT });
  if (!ck.tensors[BAD]) throw new Error(`the fixture expects ${BAD} in a checkpoint; it has ${Object.keys(ck.tensors).slice(0, 5).join(', ')}, ...`);
  ck.tensors[BAD].data[3] = NaN;
  checkpoint = join(tmp(), 'diverged.safetensors');
  await T.saveCheckpoint(checkpoint, { format: SECO_CHECKPOINT_FORMAT, tensors: ck.tensors, step: ck.step ?? 0, rng: ck.rng ?? undefined, meta: ck.meta ?? undefined });
});

function capture() {
  const err: string[] = [];
  return { io: { stdout: { write: () => true } as never, stderr: { write: (s: string) => err.push(s) } as never }, err };
}

const flags = ['--config', 'demo', ...sets.flatMap((s) => ['--set', s]), '--checkpoint'];
const named = (file: string) => new RegExp(`^seco: ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: weights are not finite: tensor ${BAD.slice('model.'.length).replace(/\./g, '\\.')} \\[\\d+(, \\d+)*\\] holds NaN`);

describe('non-finite weights', () => {
  test('seco eval refuses them, naming the checkpoint and the tensor', async () => {
    const c = capture();
    expect(await main(['eval', ...flags, checkpoint, '--out', tmp(), '--limit', '1'], c.io)).toBe(1);
    expect(c.err.join('')).toMatch(named(checkpoint));
  });

  test('seco infer refuses them too', async () => {
    const c = capture();
    const img = join(voc, 'VOC2012', 'JPEGImages', '2007_000032.jpg');
    expect(await main(['infer', ...flags, checkpoint, '--out', tmp(), img], c.io)).toBe(1);
    expect(c.err.join('')).toMatch(named(checkpoint));
  });
});
