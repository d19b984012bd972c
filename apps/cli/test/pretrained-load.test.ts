// model.pretrained as SeCo loads timm's ViT: the position embeddings keep their own grid (model.img_size),
// resized at every forward, whatever the crop size; timm's unused classification head is left out.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VisionTransformer } from '@seco/models';
import * as T from '@seco/tensor';
import { beforeAll, describe, expect, test } from 'vitest';
import { loadConfig } from '../src/config/load.ts';
import { loadPretrained, networkFromConfig } from '../src/trainer/seco-trainer.ts';

/** A tiny timm-shaped ViT (patch 8, a 4 x 4 position grid, a 10-class head) written as safetensors. */
const TIMM = { imgSize: 32, patchSize: 8, embedDim: 32, depth: 2, numHeads: 2, numClasses: 10, auxLayer: -1 };
const MODEL = ['model.patch_size=8', 'model.embed_dim=32', 'model.depth=2', 'model.num_heads=2', 'model.aux_layer=-1', 'train.crop_size=64'];
let file = '';

beforeAll(async () => {
  await T.init();
  const vit = new VisionTransformer(TIMM);
  file = join(mkdtempSync(join(tmpdir(), 'seco-pretrained-')), 'vit.safetensors');
  await T.writeSafetensors(file, vit.stateDict());
  vit.dispose();
});

describe('model.pretrained', () => {
  test('a timm ViT with its own position grid and head loads into a network trained at another crop', async () => {
    const { config } = loadConfig('demo', [...MODEL, `model.img_size=${TIMM.imgSize}`]);
    const net = networkFromConfig(config);
    try {
      await loadPretrained(net, file);
      const want = (await T.readSafetensors(file)).tensors.pos_embed;
      expect(net.encoder.posEmbed.shape).toEqual(want.shape);
      expect(Array.from(await net.encoder.posEmbed.data())).toEqual(Array.from(want.data as Float32Array));
      expect(net.encoder.head).toBeNull();
      // A 64-px input (an 8 x 8 grid) runs: the 4 x 4 embeddings are resized to it.
      const feats = net.encoder.forwardFeatures(T.zeros([1, 3, 64, 64]));
      expect(feats.patchTokens.shape).toEqual([1, 64, TIMM.embedDim]);
    } finally {
      net.dispose();
    }
  });

  test('without model.img_size the grid follows the crop, and the mismatch is named', async () => {
    const { config } = loadConfig('demo', MODEL);
    const net = networkFromConfig(config);
    try {
      await expect(loadPretrained(net, file)).rejects.toThrow(/does not fit the config's encoder: .*pos_embed/);
    } finally {
      net.dispose();
    }
  });
});
