// The shared inference (CLI and browser): weights from bytes, the network shape from a checkpoint's config or
// from tensor shapes, and §5 segmentation / CAMs on a tiny network.
import * as T from '@seco/tensor';
import { beforeAll, describe, expect, test } from 'vitest';
import {
  createSegModel,
  type InferenceConfig,
  inferenceConfigFrom,
  inferInferenceConfig,
  networkConfig,
  openSegModel,
  readNetworkWeights,
  SECO_CHECKPOINT_FORMAT,
  SecoNetwork,
} from '../src/index.ts';

const config: InferenceConfig = {
  data: { num_classes: 5 },
  model: { patch_size: 8, embed_dim: 32, depth: 2, num_heads: 2, mlp_ratio: 4, aux_layer: -1, proj_hidden_dim: 64, proj_out_dim: 32 },
  train: { crop_size: 32 },
  seco: { queue_size: 16, momentum: 0.999 },
  eval: { size: 32, scales: [1, 1.5], flip: true, crf: false },
  cam: { bkg_thre: 0.5 },
};

/** A 37×29 image with some structure (not square, not a multiple of the patch). */
function image(w = 37, h = 29) {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.set([(x * 7) % 256, (y * 11) % 256, x < w / 2 ? 200 : 30], (y * w + x) * 3);
  return { width: w, height: h, data };
}

let net: SecoNetwork;
let checkpointBytes: Uint8Array;

beforeAll(async () => {
  await T.init();
  T.manualSeed(3);
  net = new SecoNetwork(networkConfig(config));
  const tensors: Record<string, T.Tensor> = {};
  for (const [k, v] of Object.entries(net.stateDict())) tensors[`model.${k}`] = v as T.Tensor;
  tensors['optim.exp_avg.0'] = T.zeros([3]);
  checkpointBytes = await T.serializeCheckpoint({ format: SECO_CHECKPOINT_FORMAT, tensors, step: 7, meta: { state: {}, config: config as unknown as T.JsonValue } });
});

describe('shared inference', () => {
  test('networkConfig maps the config keys onto SecoNetwork', () => {
    expect(networkConfig(config)).toEqual({
      numClasses: 6,
      backbone: { imgSize: 32, patchSize: 8, embedDim: 32, depth: 2, numHeads: 2, mlpRatio: 4, auxLayer: -1, numClasses: 0 },
      projDim: 32,
      projHidden: 64,
      queueSize: 16,
      momentum: 0.999,
    });
  });

  test('a checkpoint read from bytes: only model.* tensors, prefix dropped, the stored config', async () => {
    const w = await readNetworkWeights(checkpointBytes, 'run.safetensors');
    expect(w.kind).toBe('checkpoint');
    expect(w.config).toEqual(config);
    expect(Object.keys(w.tensors).sort()).toEqual(Object.keys(net.stateDict()).sort());
  });

  test('the shape of a bare state_dict is read from its tensors; the heads are named as assumed', async () => {
    const sd = (await readNetworkWeights(checkpointBytes)).tensors;
    const { config: got, assumed } = inferInferenceConfig(sd, 'sd.safetensors');
    // The unused last_layer is read too (its width is the projection's here, as in SeCo).
    // The position grid is read as the size it was made for (img_size), whatever the crop was.
    expect(got.model).toEqual({ ...config.model, num_heads: 1, proj_last_dim: config.model.proj_out_dim, img_size: config.train.crop_size });
    expect(got.data.num_classes).toBe(5);
    expect(got.train.crop_size).toBe(config.train.crop_size);
    expect(got.seco.queue_size).toBe(16);
    expect(assumed[0]).toMatch(/attention heads: 1 .*embed_dim is not a multiple of 64/);
    expect(inferInferenceConfig(sd, 'sd', { numHeads: 2 }).config.model.num_heads).toBe(2);
    expect(() => inferInferenceConfig(sd, 'sd', { numHeads: 3 })).toThrow('sd: 3 attention heads do not divide embed_dim 32');
    expect(() => inferInferenceConfig({ 'fc.weight': { dtype: 'F32', shape: [2], data: new Float32Array(2) } }, 'mlp.safetensors')).toThrow(
      'mlp.safetensors: not a SeCo network: no encoder.patch_embed.proj.weight or classifier.weight (it holds fc.weight)',
    );
  });

  test('a stored config that is not a SeCo config is refused, naming the file and the keys', () => {
    expect(() => inferenceConfigFrom({ lr: 1 }, 'other.safetensors')).toThrow(/other\.safetensors: the stored config is not a SeCo config \(missing or invalid: data\.num_classes, model\.patch_size/);
  });

  test('openSegModel on checkpoint bytes segments exactly as the network it was saved from', async () => {
    const opened = await openSegModel(new Blob([checkpointBytes as Uint8Array<ArrayBuffer>]), { name: 'run.safetensors' });
    expect([opened.configSource, opened.kind, opened.assumed]).toEqual(['checkpoint', 'checkpoint', []]);
    const direct = createSegModel(net, config);
    const img = image();
    const [a, b] = [await opened.model.segment(img), await direct.segment(img)];
    expect([a.pred.width, a.pred.height]).toEqual([37, 29]);
    expect(Array.from(a.pred.data)).toEqual(Array.from(b.pred.data));
    expect(Math.max(...a.pred.data)).toBeLessThanOrEqual(5);
    // One scale without flip is a different computation: the options really reach the network.
    const single = await direct.segment(img, { ...config.eval, scales: [1], flip: false });
    expect(single.pred.data.length).toBe(37 * 29);
    // CRF labels come from the same softmax scores, refined; still classes of the model.
    const crf = await direct.segment(img, { ...config.eval, crf: true });
    expect(Math.max(...crf.pred.data)).toBeLessThanOrEqual(5);
    opened.model.dispose();
  });

  test('class CAMs: one [0, 1] map per foreground class at the image size; seeds use only the given labels', async () => {
    const m = createSegModel(net, config);
    const img = image();
    const cams = await m.classCams(img, [1]);
    expect([cams.width, cams.height, cams.numClasses, cams.data.length]).toEqual([37, 29, 5, 5 * 37 * 29]);
    expect(Math.min(...cams.data)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...cams.data)).toBeLessThanOrEqual(1);
    const seeds = await m.camSeeds(img, [2], [1]);
    for (const v of new Set(seeds.pred.data)) expect([0, 3, 255]).toContain(v);
    // The seed heat map is the CAM of the one present class.
    expect(Array.from(seeds.cam.data)).toEqual(Array.from(cams.data.subarray(2 * 37 * 29, 3 * 37 * 29)));
  });

  test('a file that is not safetensors, and weights of another model size, name the file', async () => {
    await expect(openSegModel(new TextEncoder().encode('hello, not a checkpoint'), { name: 'notes.txt' })).rejects.toThrow(/^notes\.txt: /);
    const wide = { ...config, model: { ...config.model, embed_dim: 64 } };
    const other = new SecoNetwork(networkConfig(wide));
    const tensors: Record<string, T.Tensor> = {};
    for (const [k, v] of Object.entries(other.stateDict())) tensors[`model.${k}`] = v as T.Tensor;
    const bytes = await T.serializeCheckpoint({ format: SECO_CHECKPOINT_FORMAT, tensors, meta: { config: config as unknown as T.JsonValue } });
    other.dispose();
    await expect(openSegModel(bytes, { name: 'wide.safetensors' })).rejects.toThrow(/wide\.safetensors: does not fit the config's model/);
  });
});
