import * as T from '@seco/tensor';
import { afterEach, beforeAll, expect, test } from 'vitest';
import { SECO_LOSS_TERMS } from '../src/seco/train/options.ts';
import { secoTrainStep } from '../src/seco/train/step.ts';
import { ALL_ON, batch, makeCtx } from './support/tiny-step.ts';

// A whole SeCo step through the sliced paths: under a 16 KiB binding limit many tensors of the step are bound in
// windows and its op families slice, yet the losses and every gradient equal the unsliced step's. Not smaller:
// a gather along the class dim (indexSelect of CAM planes) may read any plane, so all of one image's planes
// must fit one binding (12 KiB here; 16 MiB at SeCo's 448² with 21 classes).
const TINY_LIMIT = 16384;

beforeAll(async () => {
  await T.init();
});
afterEach(() => T.engine().setBindingLimit(null));

async function step(limit: number | null): Promise<{ losses: Record<string, number>; grads: Map<string, Float32Array>; dispatches: number }> {
  T.engine().setBindingLimit(limit);
  const ctx = makeCtx();
  const grads = new Map<string, Float32Array>();
  const named = [...ctx.net.namedParameters()];
  ctx.probe = async (name) => {
    if (name !== 'grads') return;
    for (const [k, p] of named) if (p.grad) grads.set(k, Float32Array.from(await p.grad.data()));
  };
  const d0 = T.engine().stats().dispatches;
  try {
    const losses = await secoTrainStep(ctx, batch(3), ALL_ON, true);
    return { losses: losses!, grads, dispatches: T.engine().stats().dispatches - d0 };
  } finally {
    ctx.net.dispose();
    T.engine().setBindingLimit(null);
  }
}

test('one SeCo step under a 16 KiB binding limit: the same seven losses and gradients as with the device limit', async () => {
  const full = await step(null);
  const sliced = await step(TINY_LIMIT);
  expect(sliced.dispatches, 'the tiny limit made the step slice').toBeGreaterThan(full.dispatches);
  for (const t of SECO_LOSS_TERMS) {
    expect(Number.isFinite(full.losses[t]), t).toBe(true);
    expect(sliced.losses[t], t).toBeCloseTo(full.losses[t], 5);
  }
  expect([...sliced.grads.keys()]).toEqual([...full.grads.keys()]);
  expect(full.grads.size).toBeGreaterThan(10);
  for (const [k, g] of full.grads) {
    const h = sliced.grads.get(k)!;
    // Sliced sums add their parts in another order: equal up to f32 rounding relative to the tensor's scale.
    const scale = Math.max(...g.map(Math.abs), 1e-12);
    const worst = Math.max(...g.map((v, i) => Math.abs(v - h[i])));
    expect(worst / scale, k).toBeLessThan(1e-4);
  }
});
