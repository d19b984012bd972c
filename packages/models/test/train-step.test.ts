import * as T from '@seco/tensor';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { SECO_LOSS_TERMS, type SecoStepPoint } from '../src/seco/train/options.ts';
import { secoTrainStep } from '../src/seco/train/step.ts';
import { ALL_ON, B, batch, makeCtx, OPTIONS } from './support/tiny-step.ts';

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
