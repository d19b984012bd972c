import { beforeAll, describe, expect, test } from 'vitest';
import * as T from '../src/index.ts';
import { checkCase, loadGroup } from '../../../test/support/fixtures.ts';
import { cpuMap, gradcheck, type ND, randomND, seededUniform } from '../../../test/support/gradcheck.ts';

beforeAll(async () => {
  await T.init();
});

const group = loadGroup('ops/loss.json');

describe('losses against PyTorch fixtures', () => {
  for (const c of group.cases) {
    test(c.name, async () => {
      await checkCase(
        c,
        (inp, p) => {
          const reduction = p.reduction as T.Reduction;
          if (p.op === 'cross_entropy') return { out: T.crossEntropy(inp.logits, inp.target, { ignoreIndex: p.ignore_index as number, reduction }) };
          if (p.op === 'multilabel_soft_margin_loss') return { out: T.multilabelSoftMarginLoss(inp.x, inp.y, { reduction }) };
          throw new Error(`unexpected op ${String(p.op)}`);
        },
        { constant: ['target', 'y'] },
      );
    });
  }
});

/** f64 cross entropy per position of logits (N, C, S...) with integer targets (N, S...). */
function cpuCrossEntropy(x: ND, target: number[], ignore: number, reduction: T.Reduction): ND {
  const [N, C] = x.shape;
  const S = x.shape.slice(2).reduce((a, b) => a * b, 1);
  const l = new Float64Array(N * S);
  let count = 0;
  for (let n = 0; n < N; n++) {
    for (let s = 0; s < S; s++) {
      const t = target[n * S + s];
      if (t === ignore) continue;
      count++;
      let m = -Infinity;
      for (let c = 0; c < C; c++) m = Math.max(m, x.data[(n * C + c) * S + s]);
      let z = 0;
      for (let c = 0; c < C; c++) z += Math.exp(x.data[(n * C + c) * S + s] - m);
      l[n * S + s] = m + Math.log(z) - x.data[(n * C + t) * S + s];
    }
  }
  if (reduction === 'none') return { data: l, shape: [N, ...x.shape.slice(2)] };
  const total = l.reduce((a, b) => a + b, 0);
  return { data: Float64Array.of(reduction === 'sum' ? total : total / count), shape: [] };
}

function randomTargets(n: number, C: number, rng: () => number, ignoreEvery = 4): number[] {
  return Array.from({ length: n }, (_, i) => (i % ignoreEvery === 1 ? 255 : Math.min(C - 1, Math.floor(((rng() + 1) / 2) * C))));
}

describe('cross entropy gradients by finite differences (f64 CPU reference)', () => {
  const rng = seededUniform(51);
  const cases: [number[], T.Reduction][] = [
    [[2, 7, 3, 5], 'none'],
    [[2, 7, 3, 5], 'mean'],
    [[13, 37], 'sum'],
    [[3, 5, 13], 'mean'],
  ];
  for (const [shape, reduction] of cases) {
    test(`${shape.join('x')} reduction ${reduction}`, async () => {
      const posShape = [shape[0], ...shape.slice(2)];
      const tgt = randomTargets(posShape.reduce((a, b) => a * b, 1), shape[1], rng);
      await gradcheck({
        label: `cross_entropy ${reduction}`,
        inputs: [randomND(shape, rng, -3, 3)],
        gpu: ([x]) => T.crossEntropy(x, T.tensor(Int32Array.from(tgt), posShape), { reduction }),
        cpu: ([x]) => cpuCrossEntropy(x, tgt, 255, reduction),
      });
    });
  }
  test('strided logits (an NHWC view) and a custom ignore index', async () => {
    const [N, H, W, C] = [2, 3, 7, 5];
    const tgt = Array.from({ length: N * H * W }, (_, i) => (i % 5 === 2 ? -1 : i % C));
    await gradcheck({
      label: 'cross_entropy NHWC view',
      inputs: [randomND([N, H, W, C], rng, -3, 3)],
      gpu: ([x]) => T.crossEntropy(T.permute(x, [0, 3, 1, 2]), T.tensor(Int32Array.from(tgt), [N, H, W]), { ignoreIndex: -1, reduction: 'none' }),
      cpu: ([x]) => {
        const nchw = new Float64Array(x.data.length);
        for (let n = 0; n < N; n++) for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) for (let c = 0; c < C; c++) {
          nchw[((n * C + c) * H + h) * W + w] = x.data[((n * H + h) * W + w) * C + c];
        }
        return cpuCrossEntropy({ data: nchw, shape: [N, C, H, W] }, tgt, -1, 'none');
      },
    });
  });
  test('large logits stay finite (max-subtracted logsumexp)', async () => {
    const x = T.tensor([[1000, -1000, 999], [-500, -501, -502]]);
    const got = await T.scope(() => T.crossEntropy(x, T.tensor(Int32Array.of(2, 0), [2]), { reduction: 'none' })).data();
    expect(got[0]).toBeCloseTo(1 + Math.log(1 + Math.exp(-1)), 4);
    expect(got[1]).toBeCloseTo(Math.log(1 + Math.exp(-1) + Math.exp(-2)), 5);
    x.dispose();
  });
});

describe('cross entropy targets', () => {
  test('a mean over only ignored targets is NaN, as PyTorch', async () => {
    const v = await T.scope(() => T.crossEntropy(T.zeros([3, 4]), T.full([3], 255, 'i32'))).item();
    expect(v).toBeNaN();
  });
  test('an out-of-range class gives NaN on the GPU and is named by checkClassTargets', async () => {
    const t = T.tensor(Int32Array.of(1, 7, 255), [3]);
    const l = T.scope(() => T.crossEntropy(T.zeros([3, 4]), t, { reduction: 'none' }));
    const d = await l.data();
    expect(d[0]).toBeCloseTo(Math.log(4), 5);
    expect(d[1]).toBeNaN();
    expect(d[2]).toBe(0);
    await expect(T.checkClassTargets(t, 4)).rejects.toThrow(/cross_entropy: target 7 at flat position 1 is not a class of 4 \(target shape \[3\]/);
    await expect(T.checkClassTargets(t, 8)).resolves.toBeUndefined();
    l.dispose();
    t.dispose();
  });
});

const softplus = (z: number) => Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z)));

describe('binary losses by finite differences (f64 CPU reference)', () => {
  const rng = seededUniform(61);
  test('multilabel soft margin 7x13, gradient of logits and targets', async () => {
    await gradcheck({
      label: 'multilabel soft margin',
      inputs: [randomND([7, 13], rng, -4, 4), randomND([7, 13], rng, 0, 1)],
      gpu: ([x, y]) => T.multilabelSoftMarginLoss(x, y, { reduction: 'none' }),
      cpu: ([x, y]) => {
        const e = cpuMap([x, y], (a, b) => b * softplus(-a) + (1 - b) * softplus(a));
        return { data: Float64Array.from({ length: 7 }, (_, n) => e.data.slice(n * 13, n * 13 + 13).reduce((s, v) => s + v, 0) / 13), shape: [7] };
      },
    });
  });
  test('binary cross entropy with logits, mean over 37x7', async () => {
    await gradcheck({
      label: 'bce with logits',
      inputs: [randomND([37, 7], rng, -6, 6), randomND([37, 7], rng, 0, 1)],
      gpu: ([x, y]) => T.binaryCrossEntropyWithLogits(x, y),
      cpu: ([x, y]) => {
        const e = cpuMap([x, y], (a, b) => b * softplus(-a) + (1 - b) * softplus(a));
        return { data: Float64Array.of(e.data.reduce((s, v) => s + v, 0) / e.data.length), shape: [] };
      },
    });
  });
  test('binary cross entropy on probabilities, sum over 13x7', async () => {
    await gradcheck({
      label: 'bce',
      inputs: [randomND([13, 7], rng, 0.05, 0.95), randomND([13, 7], rng, 0, 1)],
      gpu: ([p, y]) => T.binaryCrossEntropy(p, y, { reduction: 'sum' }),
      cpu: ([p, y]) => {
        const e = cpuMap([p, y], (a, b) => -(b * Math.log(a) + (1 - b) * Math.log(1 - a)));
        return { data: Float64Array.of(e.data.reduce((s, v) => s + v, 0)), shape: [] };
      },
    });
  });
  test('probabilities of exactly 0 and 1 give PyTorch\'s clamped, finite loss', async () => {
    const got = await T.scope(() => T.binaryCrossEntropy(T.tensor([0, 1, 0, 1]), T.tensor([0, 1, 1, 0]), { reduction: 'none' })).data();
    expect(Array.from(got, (v) => v + 0)).toEqual([0, 0, 100, 100]);
  });
  test('multilabel soft margin with x = ±30 stays finite', async () => {
    const v = await T.scope(() => T.multilabelSoftMarginLoss(T.tensor([[30, -30, 0]]), T.tensor([[1, 1, 0]]))).item();
    expect(v).toBeCloseTo((Math.log1p(Math.exp(-30)) + 30 + Math.log(2)) / 3, 5);
  });
});

describe('losses reject bad input', () => {
  const cases: [string, () => unknown, RegExp][] = [
    ['target shape mismatch', () => T.crossEntropy(T.zeros([2, 5, 3, 4]), T.zeros([2, 4, 3], 'i32')), /cross_entropy: target must have shape \[2, 3, 4\].*\[2, 5, 3, 4\], \[2, 4, 3\]/],
    ['logits of rank 1', () => T.crossEntropy(T.zeros([5]), T.zeros([], 'i32')), /cross_entropy: logits must be \(N, C\).*rank 1/],
    ['float targets', () => T.crossEntropy(T.zeros([2, 5]), T.zeros([2])), /cross_entropy: target must hold integer class indices/],
    ['bad reduction', () => T.crossEntropy(T.zeros([2, 5]), T.zeros([2], 'i32'), { reduction: 'avg' as T.Reduction }), /cross_entropy: reduction must be/],
    ['bce shape mismatch', () => T.binaryCrossEntropyWithLogits(T.zeros([2, 5]), T.zeros([5, 2])), /binary_cross_entropy_with_logits: .*same shape.*\[2, 5\], \[5, 2\]/],
    ['multilabel rank 3', () => T.multilabelSoftMarginLoss(T.zeros([2, 5, 1]), T.zeros([2, 5, 1])), /multilabel_soft_margin_loss: input must be \(N, C\)/],
  ];
  for (const [label, fn, msg] of cases) {
    test(label, () => {
      T.scope(() => {
        expect(fn).toThrow(msg);
      });
    });
  }
});
