import { beforeAll, describe, expect, test } from 'vitest';
import * as T from '@seco/tensor';
import { bilateralFeatures, bilateralFilter, EXACT_MAX_PIXELS, energyLoss, energyLossWithParts, type EnergyLossOptions, type ImageBoxes } from '../src/losses/index.ts';
import { expectClose, expectTensor, type FixtureCase, type FixtureTensor, loadGroup, maxAbs, toTensor } from '../../../test/support/fixtures.ts';
import { dimsText, inOrder } from './support/messages.ts';

beforeAll(async () => {
  await T.init();
});

const group = loadGroup('seco/energy_loss.json');
type Params = { weight: number; sigma_rgb: number; sigma_xy: number; scale_factor: number; mean_0_255: number[]; std_0_255: number[] };
const optionsOf = (c: FixtureCase): EnergyLossOptions => {
  const p = c.params as Params;
  return {
    weight: p.weight,
    sigmaRgb: p.sigma_rgb,
    sigmaXy: p.sigma_xy,
    scaleFactor: p.scale_factor,
    mean: p.mean_0_255 as [number, number, number],
    std: p.std_0_255 as [number, number, number],
  };
};
const exactOf = (c: FixtureCase) => c.exact_dense_reference as { loss: FixtureTensor; AS_before_gate: FixtureTensor; grads: { logit: FixtureTensor } };
const gradTol = (want: FixtureTensor) => ({ rtol: 1e-3, atol: 1e-3 * maxAbs(want) });

/** Runs the loss on the case's inputs, backpropagates, and hands over the parts and ∂loss/∂logit. */
async function run(c: FixtureCase, opts: EnergyLossOptions, box: (t: T.Tensor) => ImageBoxes = (t) => t) {
  const image = toTensor(c.inputs.image_normalized);
  const logit = toTensor(c.inputs.logit).requiresGrad_();
  const label = toTensor(c.inputs.label, 'i32');
  const boxT = toTensor(c.inputs.img_box, 'i32');
  try {
    const { loss, parts } = await energyLossWithParts(image, logit, label, box(boxT), opts);
    const value = (await loss.data())[0];
    loss.backward();
    loss.dispose();
    const grad = (await logit.grad!.data()) as Float32Array;
    return { value, parts, grad };
  } finally {
    logit.grad?.dispose();
    for (const t of [image, logit, label, boxT]) t.dispose();
  }
}

describe.each(group.cases.map((c) => [c.name, c] as const))('energy loss against rloss (permutohedral lattice): %s', (_, c) => {
  const options = optionsOf(c);
  const inter = c.intermediates!;
  test('loss, intermediates and rloss-backward gradients', async () => {
    const { value, parts, grad } = await run(c, options);
    expectClose([value], c.outputs.loss.data, { rtol: 1e-4, atol: 0 }, 'loss');
    expectClose([parts.lossUnweighted], c.outputs.loss_unweighted.data, { rtol: 1e-4, atol: 0 }, 'loss_unweighted');
    // The downscales and the gate are exact data movement / f32 arithmetic.
    expectClose(parts.scaledImage, inter.scaled_image_0_255.data, { rtol: 0, atol: 1e-4 }, 'scaled_image_0_255');
    expectClose(parts.scaledProb, inter.scaled_prob.data, { rtol: 1e-5, atol: 1e-6 }, 'scaled_prob');
    expectClose(parts.scaledRoi, inter.scaled_roi.data, { rtol: 0, atol: 0 }, 'scaled_roi');
    expectClose(parts.scaledLabel, inter.scaled_label.data, { rtol: 0, atol: 0 }, 'scaled_label');
    expectClose(parts.gate, inter.gate.data, { rtol: 1e-5, atol: 1e-6 }, 'gate');
    // The lattice itself: the same algorithm as rloss' (agrees to ~3e-6 relative here; float order differs).
    expectClose(parts.filtered, inter.AS_lattice_before_gate.data, { rtol: 1e-4, atol: 1e-5 * maxAbs(inter.AS_lattice_before_gate) }, 'AS before gate');
    expectClose(grad, c.grads!.logit.data, gradTol(c.grads!.logit), 'grad logit');
  });

  test('the box as host rows gives the same loss; no box means ROI 1 everywhere', async () => {
    const boxT = toTensor(c.inputs.img_box, 'i32');
    const rows = (await boxT.array()) as number[][];
    boxT.dispose();
    const a = await run(c, options);
    const b = await run(c, options, () => rows);
    expect(b.value).toBe(a.value);
    const none = await run(c, options, () => null);
    expect(Array.from(new Set(none.parts.scaledRoi))).toEqual([1]);
    // Where a box leaves part of the crop out, the loss changes without it; boxes that cover it change nothing.
    const [, , H, W] = c.inputs.image_normalized.shape;
    if (rows.some((r) => r[0] > 0 || r[1] < H || r[2] > 0 || r[3] < W)) expect(none.value).not.toBe(a.value);
    else expect(none.value).toBe(a.value);
  });

  test('energyLoss returns the same scalar, and nothing needs grad without a differentiable logit', async () => {
    const image = toTensor(c.inputs.image_normalized);
    const logit = toTensor(c.inputs.logit);
    const label = toTensor(c.inputs.label, 'i32');
    const box = toTensor(c.inputs.img_box, 'i32');
    try {
      const loss = await energyLoss(image, logit, label, box, options);
      expect(loss.shape).toEqual([]);
      expect(loss.requiresGrad).toBe(false);
      await expectTensor(loss, c.outputs.loss, { rtol: 1e-3, atol: 0 }, 'loss');
      loss.dispose();
    } finally {
      for (const t of [image, logit, label, box]) t.dispose();
    }
  });
});

describe.each(group.cases.map((c) => [c.name, c] as const))('energy loss with the exact dense filter (exact_dense_reference): %s', (_, c) => {
  const options = optionsOf(c);
  const exact = exactOf(c);
  const p = c.params as Params;
  test('loss, filtered maps and gradients', async () => {
    const { value, parts, grad } = await run(c, { ...options, filter: 'exact' });
    expectClose([value], exact.loss.data, { rtol: 1e-4, atol: 0 }, 'dense loss');
    expectClose(parts.filtered, exact.AS_before_gate.data, { rtol: 1e-4, atol: 1e-5 * maxAbs(exact.AS_before_gate) }, 'dense AS before gate');
    expectClose(grad, exact.grads.logit.data, gradTol(exact.grads.logit), 'dense grad logit');
  });

  test('the lattice approximates the exact filter (correlation > 0.99)', () => {
    // The first image at half resolution, as the fixture stores it.
    const [, , h, w] = c.intermediates!.scaled_image_0_255.shape;
    const n = h * w;
    const f = bilateralFeatures(Float32Array.from(c.intermediates!.scaled_image_0_255.data.slice(0, 3 * n) as number[]), h, w, p.sigma_rgb, p.sigma_xy * p.scale_factor);
    const ones = new Float32Array(n).fill(1);
    const a = bilateralFilter('lattice', f, ones, n, 1);
    const b = bilateralFilter('exact', f, ones, n, 1);
    const mean = (x: Float32Array) => x.reduce((s, v) => s + v, 0) / x.length;
    const [ma, mb] = [mean(a), mean(b)];
    let sab = 0;
    let saa = 0;
    let sbb = 0;
    for (let i = 0; i < n; i++) {
      sab += (a[i] - ma) * (b[i] - mb);
      saa += (a[i] - ma) ** 2;
      sbb += (b[i] - mb) ** 2;
    }
    expect(sab / Math.sqrt(saa * sbb)).toBeGreaterThan(0.99);
  });
});

test('an energy step leaves no tensor or buffer behind', async () => {
  const c = group.cases[0];
  T.setLeakTracking(true);
  try {
    await run(c, optionsOf(c));
    await T.engine().sync();
    const before = T.memoryStats();
    await run(c, optionsOf(c));
    await T.engine().sync();
    const after = T.memoryStats();
    expect(after.liveTensors, JSON.stringify(T.liveTensors().slice(-5))).toBe(before.liveTensors);
    expect(after.liveBuffers).toBe(before.liveBuffers);
  } finally {
    T.setLeakTracking(false);
  }
});

describe('energy loss bad input', () => {
  const shapes = { image: [2, 3, 8, 6], logit: [2, 4, 8, 6], label: [2, 8, 6] };
  async function call(over: Partial<Record<keyof typeof shapes, number[]>>, box: ImageBoxes = null) {
    const s = { ...shapes, ...over };
    const image = T.zeros(s.image);
    const logit = T.zeros(s.logit);
    const label = T.zeros(s.label, 'i32');
    try {
      return await energyLoss(image, logit, label, box);
    } finally {
      for (const t of [image, logit, label]) t.dispose();
    }
  }
  test('shape mismatches name the op and shapes', async () => {
    const [B, , H, W] = shapes.logit;
    const image = [B, 3, H, W - 1];
    await expect(call({ image })).rejects.toThrow(inOrder(`energyLoss: imageNormalized must be ${dimsText([B, 3, H, W])}`, image, shapes.logit));
    const label = [B, H, W + 1];
    await expect(call({ label })).rejects.toThrow(inOrder(`energyLoss: label must be ${dimsText([B, H, W])}`, label));
    await expect(call({}, [[0, H, 0, W]])).rejects.toThrow(`energyLoss: imgBox must hold ${B} rows`);
  });
  test('the exact filter refuses SeCo-sized images instead of running O(n²) for minutes', () => {
    const n = EXACT_MAX_PIXELS + 1;
    expect(() => bilateralFilter('exact', new Float32Array(n * 5), new Float32Array(n), n, 1)).toThrow(/exact filter is O\(n²\).*use 'lattice'/);
  });
});
