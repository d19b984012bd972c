import { beforeAll, describe, expect, test } from 'vitest';
import * as T from '@seco/tensor';
import { gradcheck, randomND, seededUniform } from '../../../test/support/gradcheck.ts';
import { createSegModel, type InferenceConfig, inferInferenceConfig, openSegModel, readNetworkWeights } from '../src/index.ts';
import { ctcLoss } from '../src/toco/ctc-loss.ts';
import { planTocoCrops, tocoRoiMask } from '../src/toco/local-crops.ts';
import { TOCO_CHECKPOINT_FORMAT } from '../src/toco/method.ts';
import { TocoNetwork, tocoNetworkConfig } from '../src/toco/network.ts';
import { TOCO_LOSS_TERMS, type TocoStepOptions, type TocoStepPoint } from '../src/toco/train/options.ts';
import { tocoTrainStep, type TocoTrainContext } from '../src/toco/train/step.ts';
import { toMixedPrecision } from '../src/train/mixed-precision.ts';
import { batch, B, C, SHARED_OPTIONS, TINY_BACKBONE } from './support/tiny-step.ts';
import { ctcRef } from './toco.ref.ts';

beforeAll(async () => {
  await T.init();
});

describe('ToCo CTC loss (CTCLoss_neg)', () => {
  // b = 3 images, n = 2 global + 4 local views, K = 7: no tile multiples. Image 1 has no negative crop, image 2
  // only negatives besides the globals.
  const [b, n, K] = [3, 6, 7];
  const flags = [1, 1, 0, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0];

  test('matches an f64 transcription of the original, with central-difference gradients', async () => {
    const rng = seededUniform(11);
    await gradcheck({
      label: 'ctcLoss',
      inputs: [randomND([n * b, K], rng, -0.6, 0.6), randomND([2 * b, K], rng, -0.6, 0.6)],
      gpu: ([s, t]) => {
        const f = T.tensor(flags, [b, n], 'i32');
        const out = ctcLoss(s, t, f, { temperature: 0.5 });
        f.dispose();
        return out;
      },
      cpu: ([s, t]) => ctcRef(s, t, flags, b, 0.5),
    });
  });

  test('f32 flags equal i32 flags; bad shapes are named', async () => {
    const rng = seededUniform(3);
    const s = T.tensor(Float32Array.from(randomND([n * b, K], rng).data), [n * b, K]);
    const t = T.tensor(Float32Array.from(randomND([2 * b, K], rng).data), [2 * b, K]);
    const fi = T.tensor(flags, [b, n], 'i32');
    const ff = T.tensor(flags, [b, n]);
    const [a, c] = [ctcLoss(s, t, fi), ctcLoss(s, t, ff)];
    expect(await a.item()).toBe(await c.item());
    expect(() => ctcLoss(t, t, fi)).toThrow(/ctcLoss: student must be \(n·b, K\) = \(18, K\)/);
    for (const x of [s, t, fi, ff, a, c]) x.dispose();
  });
});

describe('ToCo local crops (cam_to_roi_mask2, crop_from_roi_neg)', () => {
  test('roi mask: 0 at or below low, 2 at or above high, 1 between; absent classes do not count', async () => {
    // (1, 2, 1, 4) CAMs, class 0 present, class 1 absent.
    const cam = T.tensor([0.1, 0.25, 0.5, 0.7, 0.9, 0.9, 0.9, 0.9], [1, 2, 1, 4]);
    const lab = T.tensor([1, 0], [1, 2]);
    const roi = tocoRoiMask(cam, lab, { lowThre: 0.25, highThre: 0.7 });
    expect(Array.from(await roi.data())).toEqual([0, 0, 1, 2]);
    for (const x of [cam, lab, roi]) x.dispose();
  });

  test('corners come from the interior pixels with roi ≤ 1; a crop is negative when Σ roi / area ≤ threshold', () => {
    // 10×10, crop 4 (margin 2, interior 6×6): all confident (2) except a 1-pixel uncertain spot and a zero band.
    const [h, w] = [10, 10];
    const roi = new Array<number>(h * w).fill(2);
    for (let r = 0; r < h; r++) for (let c = 6; c < w; c++) roi[r * w + c] = 0;
    roi[3 * w + 2] = 1;
    const plan = planTocoCrops(roi, [1, h, w], { cropNum: 3, cropSize: 4, threshold: 0.2, seed: 5 });
    expect(plan.flags[0]).toBe(1);
    expect(plan.flags[1]).toBe(1);
    for (let k = 0; k < 3; k++) {
      const [h0, w0] = [plan.corners[2 * k], plan.corners[2 * k + 1]];
      // The candidate (interior coordinates) is the pixel (h0 + 2, w0 + 2): roi ≤ 1 there.
      expect(roi[(h0 + 2) * w + w0 + 2]).toBeLessThanOrEqual(1);
      let s = 0;
      for (let r = h0; r < h0 + 4; r++) for (let c = w0; c < w0 + 4; c++) s += roi[r * w + c];
      expect(plan.flags[2 + k]).toBe(s / 16 <= 0.2 ? 0 : 1);
    }
    // The same seed draws the same corners; fewer candidates than crops fall back to the whole interior.
    expect(planTocoCrops(roi, [1, h, w], { cropNum: 3, cropSize: 4, seed: 5 }).corners).toEqual(plan.corners);
    const all2 = planTocoCrops(new Array<number>(h * w).fill(2), [1, h, w], { cropNum: 5, cropSize: 4, seed: 1 });
    expect(Array.from(all2.flags)).toEqual([1, 1, 1, 1, 1, 1, 1]);
    expect(() => planTocoCrops(roi, [1, h, w], { cropNum: 40, cropSize: 4, seed: 0 })).toThrow(/cannot place 40 crops of 4×4 in a 10×10 roi mask/);
    expect(() => planTocoCrops(roi, [2, h, w], { cropNum: 1, cropSize: 4, seed: 0 })).toThrow(/100 values does not match shape \[2, 10, 10\]/);
  });
});

const OPTIONS: TocoStepOptions = { ...SHARED_OPTIONS, cropThreshold: 0.2, temperature: 0.5, seed: 0 };

function tinyToco(): TocoNetwork {
  return new TocoNetwork({
    numClasses: C + 1,
    backbone: TINY_BACKBONE,
    projHidden: 24,
    projBottleneck: 12,
    projOut: 20,
    generator: new T.Generator(2),
  });
}

describe('TocoNetwork', () => {
  test("ToCo's state_dict names; the CTC head applies its weight-normed last layer to normalised rows", async () => {
    const net = tinyToco();
    try {
      const keys = Object.keys(net.stateDict());
      expect(keys.filter((k) => !k.startsWith('encoder.'))).toEqual([
        'proj_head.mlp.0.weight', 'proj_head.mlp.0.bias', 'proj_head.mlp.2.weight', 'proj_head.mlp.2.bias', 'proj_head.mlp.4.weight', 'proj_head.mlp.4.bias',
        'proj_head.last_layer.weight_g', 'proj_head.last_layer.weight_v',
        'proj_head_t.mlp.0.weight', 'proj_head_t.mlp.0.bias', 'proj_head_t.mlp.2.weight', 'proj_head_t.mlp.2.bias', 'proj_head_t.mlp.4.weight', 'proj_head_t.mlp.4.bias',
        'proj_head_t.last_layer.weight_g', 'proj_head_t.last_layer.weight_v',
        'decoder.c0.weight', 'decoder.c0.bias', 'decoder.c1.weight', 'decoder.c1.bias', 'decoder.c2.weight', 'decoder.c2.bias', 'decoder.c3.weight', 'decoder.c3.bias',
        'classifier.weight', 'aux_classifier.weight',
      ]);
      const x = T.tensor(Float32Array.from({ length: 3 * 32 }, (_, i) => Math.sin(i)), [3, 32]);
      const y = net.projHead.forward(x);
      expect(y.shape).toEqual([3, 20]);
      // Rebuild on the host: z = normalize(mlp(x)); y = z · (v / ‖v‖_row)ᵀ (weight_g = 1).
      const z = T.scope(() => T.normalize(net.projHead.mlp.forward(x), { dim: -1, eps: 1e-12 }));
      const sd = net.stateDict();
      const [zv, v, g, yv] = await Promise.all([z.data(), sd['proj_head.last_layer.weight_v'].data(), sd['proj_head.last_layer.weight_g'].data(), y.data()]);
      expect(Array.from(g)).toEqual(new Array(20).fill(1));
      for (let r = 0; r < 3; r++) {
        for (let o = 0; o < 20; o++) {
          let nv = 0;
          let d = 0;
          for (let k = 0; k < 12; k++) nv += v[o * 12 + k] ** 2;
          for (let k = 0; k < 12; k++) d += zv[r * 12 + k] * (v[o * 12 + k] / Math.sqrt(nv));
          expect(yv[r * 20 + o]).toBeCloseTo(d, 5);
        }
      }
      for (const t of [x, y, z]) t.dispose();
      // The teacher starts as the student, frozen.
      expect(await sd['proj_head_t.last_layer.weight_v'].data()).toEqual(v);
      expect(net.projHeadT.parameters().every((p) => !p.requiresGrad)).toBe(true);
    } finally {
      net.dispose();
    }
  }, 120_000);
});

describe('ToCo training step (tiny network)', () => {
  const ALL_ON: TocoStepPoint = { weights: { cls: 1, cls_aux: 1, ptc: 0.2, ctc: 0.5, seg: 0.1, reg: 0.05 }, iteration: 3 };

  test('every loss term is finite, the student and the EMA teacher head move; terms at weight 0 read 0', async () => {
    const net = tinyToco();
    const optimizer = new T.AdamW(net.paramGroups(1e-3, 0.01), { lr: 1e-3, weightDecay: 0.01 });
    const ctx: TocoTrainContext = { net, optimizer, options: OPTIONS };
    try {
      const sd0 = net.stateDict();
      const [enc0, headT0] = await Promise.all([sd0['encoder.blocks.0.attn.qkv.weight'].data(), sd0['proj_head_t.mlp.0.weight'].data()]);
      const losses = await tocoTrainStep(ctx, batch(1), ALL_ON, true);
      expect(Object.keys(losses!)).toEqual([...TOCO_LOSS_TERMS]);
      for (const t of TOCO_LOSS_TERMS) expect(Number.isFinite(losses![t]), t).toBe(true);
      for (const t of ['cls', 'cls_aux', 'ptc', 'ctc'] as const) expect(losses![t], t).toBeGreaterThan(0);
      const sd1 = net.stateDict();
      const [enc1, headT1] = await Promise.all([sd1['encoder.blocks.0.attn.qkv.weight'].data(), sd1['proj_head_t.mlp.0.weight'].data()]);
      expect(enc1).not.toEqual(enc0);
      expect(headT1).not.toEqual(headT0);
      const warm = await tocoTrainStep(ctx, batch(2), { weights: { ...ALL_ON.weights, ctc: 0, seg: 0, reg: 0 }, iteration: 4 }, true);
      expect([warm!.ctc, warm!.seg, warm!.reg]).toEqual([0, 0, 0]);
      expect(Number.isFinite(warm!.cls)).toBe(true);
      expect(B).toBe(2);
    } finally {
      optimizer.dispose();
      net.dispose();
    }
  }, 600_000);

  test('in mixed precision: f16 student, f32 teacher head read from the masters, losses within 1e-2 of f32 over 3 steps', async () => {
    const run = async (mixed: boolean) => {
      const net = tinyToco();
      const make = (n: TocoNetwork) => new T.AdamW(n.paramGroups(1e-3, 0.01), { lr: 1e-3, weightDecay: 0.01 });
      // A small initial scale: 2^16 overflows this tiny network's f16 gradients (a skipped step would not compare).
      const scaler = mixed ? new T.GradScaler({ initScale: 16 }) : undefined;
      const optimizer = mixed ? toMixedPrecision(net, make) : make(net);
      const ctx: TocoTrainContext = { net, optimizer, options: OPTIONS, scaler };
      try {
        if (mixed) {
          for (const m of net.studentModules()) for (const p of m.parameters()) expect(p.dtype).toBe('f16');
          for (const p of net.projHeadT.parameters()) expect(p.dtype).toBe('f32');
        }
        const out: Record<string, number>[] = [];
        let teacher: ArrayLike<number> = [];
        for (let i = 0; i < 3; i++) {
          out.push((await tocoTrainStep(ctx, batch(i + 1), { ...ALL_ON, iteration: i + 3 }, true))!);
          if (i === 0) teacher = await net.projHeadT.mlp.stateDict()['0.weight'].data();
        }
        return { out, teacher, skipped: scaler ? (await scaler.stats()).skippedSteps : 0 };
      } finally {
        optimizer.dispose();
        scaler?.dispose();
        net.dispose();
      }
    };
    const f32 = await run(false);
    const mixed = await run(true);
    expect(mixed.skipped).toBe(0);
    for (let i = 0; i < 3; i++) {
      for (const t of TOCO_LOSS_TERMS) {
        const [a, b] = [mixed.out[i][t], f32.out[i][t]];
        expect(Math.abs(a - b), `${t} at step ${i}: mixed ${a}, f32 ${b}`).toBeLessThanOrEqual(1e-5 + 1e-2 * Math.abs(b));
      }
    }
    // The first step's teacher EMA (it runs before the update) read the masters, i.e. the f32 init: the same bits as
    // in f32. Reading the f16 student instead would be off by 0.1 × its rounding.
    expect(Array.from(mixed.teacher)).toEqual(Array.from(f32.teacher));
  }, 600_000);
});

describe('ToCo through the shared inference (CLI and browser)', () => {
  const config: InferenceConfig = {
    method: 'toco',
    data: { num_classes: 3 },
    model: { patch_size: 8, embed_dim: 32, depth: 2, num_heads: 2, mlp_ratio: 4, aux_layer: -1, proj_hidden_dim: 24, proj_out_dim: 32 },
    train: { crop_size: 32 },
    seco: { queue_size: 16, momentum: 0.999 },
    toco: { momentum: 0.9, proj_bottleneck_dim: 12, proj_out_dim: 20 },
    eval: { size: 32, scales: [1, 1.5], flip: true, crf: false },
    cam: { bkg_thre: 0.5 },
  };
  const image = { width: 37, height: 29, data: Uint8Array.from({ length: 37 * 29 * 3 }, (_, i) => (i * 37) % 251) };

  test('a toco checkpoint opens as a TocoNetwork and segments as the network it was saved from; a bare state_dict is recognised', async () => {
    T.manualSeed(4);
    const net = new TocoNetwork(tocoNetworkConfig(config));
    const tensors: Record<string, T.Tensor> = {};
    for (const [k, v] of Object.entries(net.stateDict())) tensors[`model.${k}`] = v as T.Tensor;
    // A stored config from before `method` existed: the checkpoint's tag still names the method.
    const { method: _m, ...untagged } = config;
    const bytes = await T.serializeCheckpoint({ format: TOCO_CHECKPOINT_FORMAT, tensors, step: 3, meta: { config: untagged as unknown as T.JsonValue } });
    const opened = await openSegModel(bytes, { name: 'toco.safetensors' });
    const direct = createSegModel(net, config);
    try {
      const [a, b] = [await opened.model.segment(image), await direct.segment(image)];
      expect(Array.from(a.pred.data)).toEqual(Array.from(b.pred.data));
      const sd = (await readNetworkWeights(bytes)).tensors;
      const inferred = inferInferenceConfig(sd, 'sd').config;
      expect([inferred.method, inferred.toco]).toEqual(['toco', { momentum: 0.9, proj_bottleneck_dim: 12, proj_out_dim: 20 }]);
      await expect(openSegModel(new TextEncoder().encode('x'), { name: 'x' })).rejects.toThrow(/^x: /);
    } finally {
      opened.model.dispose();
      net.dispose();
    }
  }, 120_000);
});
