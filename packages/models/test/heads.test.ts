import { init, mul, noGrad, sum, type Tensor, tensor } from '@seco/tensor';
import { beforeAll, describe, expect, test } from 'vitest';
import { ASPP, Classifier1x1, DINOHead } from '../src/heads.ts';
import { expectTensor, type FixtureCase, loadGroup, maxAbs, toTensor } from '../../../test/support/fixtures.ts';

const MODEL = { rtol: 1e-3, atol: 1e-4 };

beforeAll(async () => {
  await init();
});

type AnyModule = ASPP | DINOHead;

/**
 * Loads the case's weight inputs (every input but x) into the module strictly, runs x through it, and checks
 * the output and the gradients of Σ sum(out · grad_weight) for x and every parameter.
 */
async function checkModule(c: FixtureCase, m: AnyModule): Promise<void> {
  const { x: xIn, ...weights } = c.inputs;
  const loaded = m.loadStateDict(Object.fromEntries(Object.entries(weights).map(([k, t]) => [k, { shape: t.shape, data: t.data as number[] }])), { strict: false });
  // DINOHead's last_layer is never used in forward; the fixture leaves it out and nothing else may be missing.
  expect([...loaded.unexpected, ...loaded.mismatched.map((x) => x.key)]).toEqual([]);
  expect(loaded.missing.filter((k) => !k.startsWith('last_layer.'))).toEqual([]);
  const x = toTensor(xIn).requiresGrad_();
  const made: Tensor[] = [x];
  try {
    const out = m.forward(x);
    made.push(out);
    await expectTensor(out, c.outputs.out, MODEL, `${c.name} out`);
    const w = toTensor(c.grad_weight!.out);
    const loss = sum(mul(out, w));
    made.push(w, loss);
    loss.backward();
    const params = Object.fromEntries(m.namedParameters().filter(([k]) => !loaded.missing.includes(k)));
    expect(Object.keys(c.grads!).sort()).toEqual(['x', ...Object.keys(params)].sort());
    for (const k of loaded.missing) expect(m.namedParameters().find(([n]) => n === k)![1].grad, `${k} takes no part in forward`).toBeNull();
    for (const [k, want] of Object.entries(c.grads!)) {
      const g = k === 'x' ? x.grad : params[k].grad;
      expect(g, `grad ${k}`).toBeTruthy();
      await expectTensor(g!, want, { rtol: 1e-3, atol: 1e-3 * maxAbs(want) }, `${c.name} grad ${k}`);
    }
  } finally {
    m.zeroGrad();
    x.grad?.dispose();
    for (const t of made) t.dispose();
  }
}

describe('ASPP against SeCo conv_head.ASPP (aspp.json)', () => {
  for (const c of loadGroup('seco/aspp.json').cases) {
    test(`${c.name}: output and gradients for x and every weight`, async () => {
      const [O, I] = c.inputs['c0.weight'].shape;
      const rates = (c.params as { atrous_rates: number[] }).atrous_rates;
      const m = new ASPP(I, O, rates);
      try {
        await checkModule(c, m);
      } finally {
        m.dispose();
      }
    });
  }

  test("SeCo's init: weights N(0, 0.01), biases 0, names c0..c3", async () => {
    const m = new ASPP(64, 21);
    try {
      expect(Object.keys(m.stateDict())).toEqual(['c0.weight', 'c0.bias', 'c1.weight', 'c1.bias', 'c2.weight', 'c2.bias', 'c3.weight', 'c3.bias']);
      const w = Array.from(await m.branches[3].weight.data());
      const mean = w.reduce((a, b) => a + b, 0) / w.length;
      const std = Math.sqrt(w.reduce((a, b) => a + (b - mean) ** 2, 0) / w.length);
      expect(Math.abs(mean)).toBeLessThan(0.001);
      expect(std).toBeGreaterThan(0.0095);
      expect(std).toBeLessThan(0.0105);
      expect(Array.from(await m.branches[0].bias!.data()).every((v) => v === 0)).toBe(true);
    } finally {
      m.dispose();
    }
  });
});

describe('DINOHead against SeCo proj_head.DINOHead (dino_head.json)', () => {
  for (const c of loadGroup('seco/dino_head.json').cases) {
    test(`${c.name}: normalised output and gradients for x and every weight`, async () => {
      const p = c.params as { in_dim: number; hidden_dim: number; bottleneck_dim: number };
      const m = new DINOHead(p.in_dim, { hiddenDim: p.hidden_dim, bottleneckDim: p.bottleneck_dim });
      try {
        await checkModule(c, m);
      } finally {
        m.dispose();
      }
    });
  }

  test('trunc-normal std 0.02 init, zero biases; the unused last_layer is kept for SeCo\'s state_dict keys', async () => {
    const m = new DINOHead(768, { outDim: 96 });
    try {
      const sd = m.stateDict();
      expect(Object.keys(sd)).toEqual(['mlp.0.weight', 'mlp.0.bias', 'mlp.2.weight', 'mlp.2.bias', 'mlp.4.weight', 'mlp.4.bias', 'last_layer.weight_g', 'last_layer.weight_v']);
      expect(sd['last_layer.weight_g'].shape).toEqual([96, 1]);
      expect(sd['last_layer.weight_v'].shape).toEqual([96, 768]);
      expect(Array.from(await sd['last_layer.weight_g'].data()).every((v) => v === 1)).toBe(true);
      expect(sd['last_layer.weight_g'].requiresGrad).toBe(false);
      const w = Array.from(await m.stateDict()['mlp.2.weight'].data());
      const std = Math.sqrt(w.reduce((a, b) => a + b * b, 0) / w.length);
      expect(std).toBeGreaterThan(0.0195);
      expect(std).toBeLessThan(0.0205);
      expect(Array.from(await m.stateDict()['mlp.4.bias'].data()).every((v) => v === 0)).toBe(true);
    } finally {
      m.dispose();
    }
  });
});

describe('Classifier1x1', () => {
  // Reference values computed by hand: x (1, 2, 2, 2), weight (3, 2, 1, 1).
  const xs = [1, -2, 3, 0.5, /* ch1 */ -1, 4, 2, -3];
  const ws = [1, 2, -1, 0.5, 0, 3];

  test('logits = W · GMP(x) per image; the gradient goes to each channel maximum', async () => {
    const m = new Classifier1x1(2, 3);
    m.loadStateDict({ weight: { shape: [3, 2, 1, 1], data: ws } });
    const x = tensor(xs, [1, 2, 2, 2]).requiresGrad_();
    try {
      const y = m.forward(x);
      // GMP = (3, 4): [1·3 + 2·4, −1·3 + 0.5·4, 0·3 + 3·4]
      expect(Array.from(await y.data())).toEqual([11, -1, 12]);
      sum(mul(y, tensor([1, 1, 1], [1, 3]))).backward();
      // d/dGMP = Σ_c W[c] = (0, 5.5), routed to argmax positions 2 (ch0) and 1 (ch1).
      expect(Array.from(await x.grad!.data())).toEqual([0, 0, 0, 0, 0, 5.5, 0, 0]);
      expect(Array.from(await m.weight.grad!.data())).toEqual([3, 4, 3, 4, 3, 4]);
      y.dispose();
    } finally {
      x.grad?.dispose();
      x.dispose();
      m.dispose();
    }
  });

  test('cam = conv1x1(x, W) without ReLU, and shape errors name the expected layout', async () => {
    const m = new Classifier1x1(2, 3);
    m.loadStateDict({ weight: { shape: [3, 2, 1, 1], data: ws } });
    const x = tensor(xs, [1, 2, 2, 2]);
    try {
      const cam = noGrad(() => m.cam(x));
      const want: number[] = [];
      for (let c = 0; c < 3; c++) for (let p = 0; p < 4; p++) want.push(ws[2 * c] * xs[p] + ws[2 * c + 1] * xs[4 + p]);
      expect(cam.shape).toEqual([1, 3, 2, 2]);
      expect(Array.from(await cam.data())).toEqual(want);
      expect(want.some((v) => v < 0)).toBe(true);
      cam.dispose();
      const bad = tensor([1, 2, 3], [1, 3, 1, 1]);
      expect(() => m.forward(bad)).toThrow(/expects feature maps \(B, 2, h, w\), got \[1, 3, 1, 1\]/);
      bad.dispose();
    } finally {
      x.dispose();
      m.dispose();
    }
  });
});

