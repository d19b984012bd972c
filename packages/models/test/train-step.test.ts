import * as T from '@seco/tensor';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { SecoNetwork } from '../src/network.ts';
import { SECO_LOSS_TERMS, type SecoBatch, type SecoStepOptions, type SecoStepPoint } from '../src/train/options.ts';
import { secoTrainStep, type SecoTrainContext } from '../src/train/step.ts';

// Tiny sizes: 32-px crops, 8-px patches (4×4 tokens), 2 local crops of 16 px, batch 2 → 8 keys per step.
const B = 2;
const S = 32;
const C = 3;
const OPTIONS: SecoStepOptions = {
  camScales: [1, 0.5],
  bkgThre: 0.5,
  highThre: 0.7,
  lowThre: 0.25,
  cropNum: 2,
  localCropSize: 16,
  tagThreshold: 0.2,
  protoM: 0.9,
  tempLil: 0.08,
  tempLig: 0.1,
  energy: { weight: 1e-7, sigmaRgb: 15, sigmaXy: 100, scaleFactor: 0.5 },
  par: { dilations: [1, 2], iterations: 3 },
};
const ALL_ON: SecoStepPoint = {
  weights: { cls: 1, cls_aux: 1, ptc: 0.3, lil: 0.5, lig: 0.5, seg: 0.12, reg: 0.05 },
  roiSource: 'aux',
  segSource: 'final',
  updatePrototypes: true,
};

function tinyNet(): SecoNetwork {
  return new SecoNetwork({
    numClasses: C + 1,
    backbone: { imgSize: S, patchSize: 8, embedDim: 32, depth: 2, numHeads: 2, auxLayer: -1, numClasses: 0 },
    projDim: 32, // prototypes live in cls-token space (§3.5.2), so projDim = embedDim as in SeCo
    projHidden: 32,
    queueSize: 16,
    generator: new T.Generator(1),
  });
}

/** A seeded batch: a bright square on a dark field, class 1 in image 0 and classes 1+3 in image 1. */
function batch(seed: number): SecoBatch {
  const n = B * 3 * S * S;
  // A deterministic hash noise in [−0.5, 0.5).
  const images = Float32Array.from({ length: n }, (_, i) => (((Math.sin(i * 12.9898 + seed * 78.233) * 43758.5453) % 1) + 1) % 1 - 0.5);
  for (let b = 0; b < B; b++) for (let c = 0; c < 3; c++) for (let y = 8; y < 20; y++) for (let x = 6; x < 22; x++) images[((b * 3 + c) * S + y) * S + x] += 2;
  return {
    size: B,
    cropSize: S,
    images,
    strong: images.map((v) => v * 0.8),
    global2: images.map((v, i) => images[n - 1 - i] * 0.9 + v * 0.1),
    imgBox: Int32Array.from([0, S, 0, S, 2, S, 0, 30]),
    clsLabels: Float32Array.from([1, 0, 0, 1, 0, 1]),
    labelIdx: Int32Array.from([1, -1]),
  };
}

function makeCtx(): SecoTrainContext {
  const net = tinyNet();
  return { net, optimizer: new T.AdamW(net.paramGroups(1e-3, 0.01), { lr: 1e-3, weightDecay: 0.01 }), options: OPTIONS };
}

const snapshot = async (t: T.Tensor) => Float32Array.from(await t.data());
const changed = (a: Float32Array, b: Float32Array) => a.some((v, i) => v !== b[i]);

beforeAll(async () => {
  await T.init();
});
afterAll(() => T.setLeakTracking(false));

describe('secoTrainStep', () => {
  test('all seven terms finite; student, heads, teachers, queue and prototypes move; no live-tensor growth', async () => {
    T.setLeakTracking(true);
    const ctx = makeCtx();
    const { net } = ctx;
    const before = {
      patch: await snapshot(net.encoder.patchEmbed.proj.weight),
      key: await snapshot(net.encoderK.patchEmbed.proj.weight),
      head: await snapshot(net.projHead.parameters()[0]),
      headT: await snapshot(net.projHeadT.parameters()[0]),
      aspp: await snapshot(net.decoder.parameters()[0]),
      queue: await snapshot(net.queue),
      protos: await snapshot(net.prototypes),
    };
    const losses = await secoTrainStep(ctx, batch(0), ALL_ON, true);
    expect(losses).not.toBeNull();
    for (const t of SECO_LOSS_TERMS) expect(Number.isFinite(losses![t]), `${t} = ${losses![t]}`).toBe(true);
    expect(losses!.cls).toBeGreaterThan(0);
    expect(losses!.ptc).toBeGreaterThan(0);
    expect(losses!.seg).toBeGreaterThan(0);
    expect(losses!.reg).not.toBe(0);
    expect(changed(before.patch, await snapshot(net.encoder.patchEmbed.proj.weight))).toBe(true);
    expect(changed(before.key, await snapshot(net.encoderK.patchEmbed.proj.weight))).toBe(true);
    expect(changed(before.head, await snapshot(net.projHead.parameters()[0]))).toBe(true);
    expect(changed(before.headT, await snapshot(net.projHeadT.parameters()[0]))).toBe(true);
    expect(changed(before.aspp, await snapshot(net.decoder.parameters()[0]))).toBe(true);
    expect(changed(before.queue, await snapshot(net.queue))).toBe(true);
    expect(changed(before.protos, await snapshot(net.prototypes))).toBe(true);
    expect(net.queuePtr).toBe(B * (OPTIONS.cropNum + 2));
    const live = T.memoryStats().liveTensors;
    for (let i = 1; i < 3; i++) await secoTrainStep(ctx, batch(i), ALL_ON, i === 2);
    expect(T.memoryStats().liveTensors, JSON.stringify(T.liveTensors().slice(-5))).toBe(live);
    expect(net.queuePtr).toBe((3 * B * (OPTIONS.cropNum + 2)) % 16);
    net.dispose();
    T.setLeakTracking(false);
  }, 60_000);

  test('terms that weigh 0 are skipped and read 0; the others equal an all-on step on the same state', async () => {
    const warm: SecoStepPoint = { ...ALL_ON, weights: { ...ALL_ON.weights, lil: 0, lig: 0, seg: 0, reg: 0 }, updatePrototypes: false };
    const [a, b] = [makeCtx(), makeCtx()];
    const la = (await secoTrainStep(a, batch(5), warm, true))!;
    const lb = (await secoTrainStep(b, batch(5), ALL_ON, true))!;
    for (const t of ['lil', 'lig', 'seg', 'reg'] as const) expect(la[t]).toBe(0);
    for (const t of ['cls', 'cls_aux', 'ptc'] as const) expect(la[t]).toBeCloseTo(lb[t], 6);
    a.net.dispose();
    b.net.dispose();
  }, 60_000);
});
