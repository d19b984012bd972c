// SeCo's released checkpoints (torch.save of the DDP model's state_dict, keys `module.*`) load as they are, and
// predict exactly what the same weights do in our own checkpoint format.
import * as T from '@seco/tensor';
import { beforeAll, describe, expect, test } from 'vitest';
import { inferInferenceConfig, loadSegNetwork, openSegModel, readNetworkWeights, readStateDict, SECO_CHECKPOINT_FORMAT, stateDictIn } from '../src/index.ts';
import { fixturesDir, loadJson } from '../../../test/support/fixtures.ts';
import { pickPrefix, type StepFixture } from './support/train-step-fixture.ts';

const fx = loadJson<StepFixture>('train_step/train_step.json');
const released = `${fixturesDir}train_step/${fx.meta.released_format.file}`;
let final: T.TensorRecord;
let init: { cropSize: number };

beforeAll(async () => {
  await T.init();
  const start = await readStateDict(`${fixturesDir}train_step/train_step_init.safetensors`);
  init = { cropSize: start['input.inputs'].shape[2] };
  final = pickPrefix(await readStateDict(`${fixturesDir}train_step/train_step_final.safetensors`), '', (k) => !k.startsWith('optim.'));
});

/** A seeded image of the network's input size, with some structure. */
function image(size: number) {
  const g = new T.Generator(5);
  const noise = T.rand([size * size * 3], 0, 1, g);
  return noise.data().then((d) => {
    noise.dispose();
    const data = Uint8Array.from(d, (v, i) => ((i % 3 === 0 ? (i / 3) % size : 0) * 3 + v * 120) & 255);
    return { width: size, height: size, data };
  });
}

describe("SeCo's released checkpoint format (train_step/released_format.pth)", () => {
  test('read as it is: module. stripped, every tensor equal to the final state it was saved from', async () => {
    const w = await readNetworkWeights(released);
    expect(w.kind).toBe('pth');
    expect(Object.keys(w.tensors)).toHaveLength(fx.meta.released_format.num_keys);
    expect(Object.keys(w.tensors).sort()).toEqual(Object.keys(final).sort());
    expect(w.notes.join(' ')).toMatch(/'module\.' stripped/);
    for (const [k, v] of Object.entries(final)) {
      expect(w.tensors[k].shape, k).toEqual(v.shape);
      expect(Array.from(w.tensors[k].data), k).toEqual(Array.from(v.data));
    }
  });

  test('the network shape is inferred and loads strictly; predictions equal our own checkpoint of the same weights', async () => {
    const m = fx.meta.model;
    const opened = await openSegModel(released, { numHeads: m.num_heads });
    expect(opened.configSource).toBe('inferred');
    const c = opened.model.config;
    expect([c.data.num_classes, c.model.embed_dim, c.model.depth, c.model.patch_size, c.model.proj_out_dim, c.seco.queue_size]).toEqual([
      m.num_fg_classes, m.embed_dim, m.depth, m.patch_size, m.ctc_dim, m.moco_queue,
    ]);
    expect([c.model.vit_head_classes, c.model.proj_last_dim, c.model.proj_hidden_dim]).toEqual([m.vit_num_classes, m.dino_head.out_dim_last_layer_unused, m.dino_head.hidden_dim]);
    // Our format: the same tensors under model.* with the config stored beside them.
    const tensors: Record<string, T.TensorInput> = {};
    for (const [k, v] of Object.entries(final)) tensors[`model.${k}`] = { data: v.data, shape: v.shape, dtype: v.dtype } as T.TensorInput;
    const ours = await T.serializeCheckpoint({ format: SECO_CHECKPOINT_FORMAT, tensors, step: 0, meta: { config: c as unknown as T.JsonValue } });
    const mine = await openSegModel(new Blob([ours as Uint8Array<ArrayBuffer>]), { name: 'ours.safetensors' });
    expect(mine.configSource).toBe('checkpoint');
    try {
      // Small enough for lavapipe: the crop size of the fixture's batch, one scale and its flip, no CRF.
      const crop = init.cropSize;
      const img = await image(crop + 3);
      const eval1 = { ...c.eval, size: crop, scales: [1], crf: false };
      const [a, b] = [await opened.model.segment(img, eval1), await mine.model.segment(img, eval1)];
      expect(Array.from(a.pred.data)).toEqual(Array.from(b.pred.data));
      const [ca, cb] = [await opened.model.classCams(img, [1]), await mine.model.classCams(img, [1])];
      expect(Array.from(ca.data)).toEqual(Array.from(cb.data));
      expect(new Set(ca.data).size).toBeGreaterThan(ca.width); // real maps, not a constant
    } finally {
      opened.model.dispose();
      mine.model.dispose();
    }
  });

  test('weights of another shape: the missing, unexpected and mis-shaped keys are named and nothing is loaded', async () => {
    const w = await readNetworkWeights(released);
    const { config } = inferInferenceConfig(w.tensors, 'x.pth', { numHeads: fx.meta.model.num_heads });
    const keys = Object.keys(w.tensors);
    const [gone, renamed, reshaped] = [keys[keys.length - 1], keys[keys.length - 2], 'classifier.weight'];
    const bad: T.TensorRecord = { ...w.tensors, [`${renamed}_other`]: w.tensors[renamed] };
    delete bad[gone];
    delete bad[renamed];
    const cw = w.tensors[reshaped];
    bad[reshaped] = { ...cw, shape: [cw.shape[0] + 1, ...cw.shape.slice(1)], data: new Float32Array(cw.data.length + cw.data.length / cw.shape[0]) };
    const live = T.memoryStats().liveTensors;
    let msg = '';
    try {
      loadSegNetwork(bad, config, 'other.pth').dispose();
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toMatch(/^other\.pth: /);
    for (const k of [gone, renamed, `${renamed}_other`, reshaped]) expect(msg).toContain(k);
    expect(msg).toMatch(/Nothing was loaded/);
    expect(T.memoryStats().liveTensors).toBe(live);
  });

  test('a training checkpoint dict: said so and its model weights used; an optimizer state alone is refused', async () => {
    const nested = await readNetworkWeights(`${fixturesDir}io/nested_checkpoint.pth`);
    const bare = await readNetworkWeights(`${fixturesDir}io/state_dict.pth`);
    const modelKey = loadJson<{ nested: { model_key: string } }>('io/expected.json').nested.model_key;
    expect(nested.notes.join(' ')).toMatch(/a training checkpoint \(keys: .*\); the model weights are its '/);
    expect(nested.notes.join(' ')).toContain(`the model weights are its '${modelKey}'`);
    expect(Object.keys(nested.tensors).sort()).toEqual(Object.keys(bare.tensors).sort());
    const sd = (await readNetworkWeights(released)).tensors;
    expect(() => stateDictIn({ state: { 0: { step: sd.queue_ptr } }, param_groups: [{ lr: 1 }] }, 'adam.pth')).toThrow(
      'adam.pth: holds an optimizer state_dict (state, param_groups), not model weights',
    );
    const wrapped = stateDictIn({ iteration: 3, model: Object.fromEntries(Object.entries(sd).map(([k, v]) => [`module.${k}`, v])), optimizer: { state: {}, param_groups: [] } }, 'run.pth');
    expect(Object.keys(wrapped.tensors).sort()).toEqual(Object.keys(sd).sort());
    expect(wrapped.notes).toHaveLength(2);
    expect(() => stateDictIn({ iteration: 3 }, 'empty.pth')).toThrow(/empty\.pth: no model state_dict inside \(top-level keys: iteration/);
  });
});
