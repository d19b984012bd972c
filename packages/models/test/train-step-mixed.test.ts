// SeCo's step in mixed precision (train/mixed-precision.ts): f16 student through f32 masters, f32 losses, a
// GradScaler that skips an overflowing step on the GPU, and EMAs that read the masters.
import * as T from '@seco/tensor';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { SECO_LOSS_TERMS } from '../src/seco/train/options.ts';
import { toMixedPrecision } from '../src/train/mixed-precision.ts';
import { secoTrainStep, type SecoTrainContext } from '../src/seco/train/step.ts';
import { ALL_ON, batch, makeCtx, OPTIONS, tinyNet } from './support/tiny-step.ts';

// f16 activations against the f32 step over five iterations (measured on lavapipe: at most 4e-3 relative).
const RTOL = 1e-2;
// LIG is ~1e-7 on this batch (no positive pair survives its mask): noise at that size is absolute.
const ATOL = 1e-5;

beforeAll(async () => {
  await T.init();
});
afterAll(() => T.setLeakTracking(false));

function mixedCtx(initScale: number): SecoTrainContext & { scaler: T.GradScaler } {
  const net = tinyNet();
  const optimizer = toMixedPrecision(net, (n) => new T.AdamW(n.paramGroups(1e-3, 0.01), { lr: 1e-3, weightDecay: 0.01 }));
  return { net, optimizer, options: OPTIONS, scaler: new T.GradScaler({ initScale }) };
}

/** Raw bits of every student parameter (f16), its master and its AdamW moments. */
async function trainedState(ctx: SecoTrainContext): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  const bits = async (t: T.Tensor) => new Uint8Array(((await t.data({ raw: true })) as ArrayBufferView).buffer.slice(0));
  for (const m of ctx.net.studentModules()) for (const [name, p] of m.namedParameters()) out.set(`param ${m.constructor.name}.${name}`, await bits(p));
  const sd = ctx.optimizer.stateDict();
  for (const [k, t] of Object.entries(sd.tensors)) {
    if (k !== 'skipped_steps') out.set(k, await bits(t));
    t.dispose();
  }
  return out;
}

const disposeCtx = (ctx: SecoTrainContext & { scaler?: T.GradScaler }) => {
  ctx.optimizer.dispose();
  ctx.scaler?.dispose();
  ctx.net.dispose();
};

describe('secoTrainStep in mixed precision', () => {
  test('the student is f16 with f32 masters equal to the f32 init; teachers, prototypes and queue stay f32', async () => {
    const ref = tinyNet();
    const ctx = mixedCtx(16);
    for (const m of ctx.net.studentModules()) for (const p of m.parameters()) expect(p.dtype).toBe('f16');
    for (const [n, p] of [...ctx.net.encoderK.namedParameters(), ...ctx.net.projHeadT.namedParameters()]) expect(p.dtype, n).toBe('f32');
    for (const t of [ctx.net.prototypes, ctx.net.queue]) expect(t.dtype).toBe('f32');
    const want = new Map(ref.namedParameters());
    for (const [n, p] of ctx.net.namedParameters()) {
      const master = ctx.optimizer.masterWeight(p);
      if (!ctx.net.studentModules().some((m) => m.parameters().includes(p))) continue;
      expect(master, n).toBeDefined();
      expect(await master!.data(), n).toEqual(await want.get(n)!.data());
    }
    ref.dispose();
    disposeCtx(ctx);
  }, 60_000);

  test('the teacher EMAs read the f32 masters, not the f16 parameters', async () => {
    const ctx = mixedCtx(16);
    const { net } = ctx;
    net.momentumUpdateEncoder(0); // teacher := source
    net.emaUpdateProjHead(0);
    let differs = false;
    const teacher = new Map([...net.encoderK.namedParameters(), ...net.projHeadT.namedParameters().map(([n, p]) => [`h.${n}`, p] as const)]);
    for (const [n, p] of [...net.encoder.namedParameters(), ...net.projHead.namedParameters().map(([k, q]) => [`h.${k}`, q] as const)]) {
      const got = await teacher.get(n)!.data();
      expect(got, n).toEqual(await ctx.optimizer.masterWeight(p)!.data());
      differs ||= (await p.data()).some((v, i) => v !== got[i]);
    }
    expect(differs, 'some f16 parameter differs from its master, so the test can tell them apart').toBe(true);
    disposeCtx(ctx);
  }, 60_000);

  test('five mixed steps track the f32 steps: every loss within 1e-2 relative; no live-tensor growth', async () => {
    T.setLeakTracking(true);
    const f32 = makeCtx();
    const mixed = mixedCtx(16);
    let live = 0;
    for (let i = 0; i < 5; i++) {
      const want = (await secoTrainStep(f32, batch(i), ALL_ON, true))!;
      const got = (await secoTrainStep(mixed, batch(i), ALL_ON, true))!;
      for (const t of SECO_LOSS_TERMS) {
        expect(Number.isFinite(got[t]), `${t} at ${i}`).toBe(true);
        expect(Math.abs(got[t] - want[t]), `${t} at ${i}: ${got[t]} vs ${want[t]}`).toBeLessThanOrEqual(RTOL * Math.abs(want[t]) + ATOL);
      }
      if (i === 1) live = T.memoryStats().liveTensors;
    }
    expect(T.memoryStats().liveTensors, JSON.stringify(T.liveTensors().slice(-5))).toBe(live);
    // No step overflowed at this scale, so the scale is unchanged and five clean steps were counted.
    expect(await mixed.scaler.stats()).toEqual({ scale: 16, growthTracker: 5, skippedSteps: 0 });
    T.setLeakTracking(false);
    disposeCtx(f32);
    disposeCtx(mixed);
  }, 120_000);

  test('a planted overflow (scale 2^40) skips the step: parameters, masters and moments keep their bits, the scale halves', async () => {
    const ctx = mixedCtx(16);
    await secoTrainStep(ctx, batch(0), ALL_ON, false); // a real step first, so the moments are not zeros
    ctx.scaler.update(2 ** 40);
    const before = await trainedState(ctx);
    const teacher = await ctx.net.encoderK.patchEmbed.proj.weight.data();
    const losses = (await secoTrainStep(ctx, batch(1), ALL_ON, true))!;
    for (const t of SECO_LOSS_TERMS) expect(Number.isFinite(losses[t]), `${t}: the loss itself is finite`).toBe(true);
    const after = await trainedState(ctx);
    expect([...after.keys()]).toEqual([...before.keys()]);
    for (const [k, v] of before) expect(after.get(k), k).toEqual(v);
    expect(await ctx.scaler.stats()).toEqual({ scale: 2 ** 39, growthTracker: 0, skippedSteps: 1 });
    expect(await ctx.optimizer.skippedSteps()).toBe(1);
    // SeCo's EMAs run in the forward, so the teacher still moves (towards unchanged masters), as under torch.amp.
    expect(await ctx.net.encoderK.patchEmbed.proj.weight.data()).not.toEqual(teacher);
    // At a sane scale the next step updates again.
    ctx.scaler.update(16);
    await secoTrainStep(ctx, batch(2), ALL_ON, false);
    const moved = await trainedState(ctx);
    expect(moved.get('param VisionTransformer.patch_embed.proj.weight')).not.toEqual(before.get('param VisionTransformer.patch_embed.proj.weight'));
    disposeCtx(ctx);
  }, 120_000);

  test('the default scale (2^16) overflows this tiny network\'s gradients at first and backs off until steps go through', async () => {
    const ctx = mixedCtx(2 ** 16);
    const seen: number[] = [];
    for (let i = 0; i < 14; i++) {
      await secoTrainStep(ctx, batch(i % 4), ALL_ON, false);
      seen.push((await ctx.scaler.stats()).scale);
    }
    // Halved on each overflow (PyTorch's backoff 0.5), then steady once the scaled gradients fit in f16.
    for (let i = 1; i < seen.length; i++) expect(seen[i] === seen[i - 1] || seen[i] === seen[i - 1] / 2, `scale ${seen.join(', ')}`).toBe(true);
    expect(seen[0]).toBe(2 ** 15);
    expect(seen.at(-1)).toBe(seen.at(-2));
    const { skippedSteps } = await ctx.scaler.stats();
    expect(skippedSteps).toBe(Math.log2(2 ** 16 / seen.at(-1)!));
    expect(await ctx.optimizer.skippedSteps()).toBe(skippedSteps);
    disposeCtx(ctx);
  }, 180_000);
});
