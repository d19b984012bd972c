import { beforeAll, describe, expect, test } from 'vitest';
import * as T from '../src/index.ts';
import { checkCase, loadGroup } from '../../../test/support/fixtures.ts';
import { gradcheck, type ND, randomND, seededUniform } from '../../../test/support/gradcheck.ts';
import { at, build, transposeND } from './support/ndref.ts';

beforeAll(async () => {
  await T.init();
});

const group = loadGroup('ops/pad.json');

describe('pad against PyTorch fixtures', () => {
  for (const c of group.cases) {
    test(c.name, () => checkCase(c, (inp, p) => ({ out: T.pad(inp.x, p.pad as number[], p.mode as T.PadMode) })));
  }
});

/** Reference pad: `pads` in torch order (last dim first); clamp for replicate, `value` outside for constant. */
function padND(x: ND, pads: number[], mode: T.PadMode, value = 0): ND {
  const r = x.shape.length;
  const before = x.shape.map((_, d) => pads[2 * (r - 1 - d)] ?? 0);
  const after = x.shape.map((_, d) => pads[2 * (r - 1 - d) + 1] ?? 0);
  return build(
    x.shape.map((s, d) => s + before[d] + after[d]),
    (c) => {
      const src = c.map((v, d) => v - before[d]);
      if (mode === 'constant') return src.every((v, d) => v >= 0 && v < x.shape[d]) ? at(x, src) : value;
      return at(x, src.map((v, d) => Math.min(Math.max(v, 0), x.shape[d] - 1)));
    },
  );
}

describe('pad by finite differences (f64 CPU reference)', () => {
  test('replicate on a transposed input, pads wider than the input on one side', async () => {
    const rng = seededUniform(31);
    const pads = [9, 0, 2, 14];
    await gradcheck({
      label: 'replicate strided',
      inputs: [randomND([2, 13, 7], rng)],
      gpu: ([x]) => T.pad(T.transpose(x, 1, 2), pads, 'replicate'),
      cpu: ([x]) => padND(transposeND(x, 1, 2), pads, 'replicate'),
    });
  });

  test('replicate over three dims including sizes 1 and 2 (no interior)', async () => {
    const rng = seededUniform(32);
    const pads = [1, 2, 3, 0, 2, 1];
    await gradcheck({
      label: 'replicate 3 dims',
      inputs: [randomND([3, 1, 2, 37], rng)],
      gpu: ([x]) => T.pad(x, pads, 'replicate'),
      cpu: ([x]) => padND(x, pads, 'replicate'),
    });
  });

  test('constant with a value, on a sliced input', async () => {
    const rng = seededUniform(33);
    const pads = [3, 1, 0, 5];
    await gradcheck({
      label: 'constant',
      inputs: [randomND([7, 26], rng)],
      gpu: ([x]) => T.pad(T.slice(x, [null, [0, 26, 2]]), pads, 'constant', 1.5),
      cpu: ([x]) => padND(build([7, 13], (c) => at(x, [c[0], 2 * c[1]])), pads, 'constant', 1.5),
    });
  });

  test('replicate gradient accumulates on the border pixels', async () => {
    const x = T.tensor([[1, 2]]).requiresGrad_();
    const y = T.pad(x, [3, 1, 2, 0], 'replicate');
    expect(await y.array()).toEqual([
      [1, 1, 1, 1, 2, 2],
      [1, 1, 1, 1, 2, 2],
      [1, 1, 1, 1, 2, 2],
    ]);
    T.sum(y).backward();
    expect(await x.grad!.array()).toEqual([[12, 6]]);
  });

  test('integer constant padding is exact', async () => {
    const x = T.tensor([[7, 8]], undefined, 'i32');
    expect(await x.pad([1, 0, 0, 1], 'constant', -3).array()).toEqual([
      [-3, 7, 8],
      [-3, -3, -3],
    ]);
  });
});

describe('pad errors name the op and the shapes', () => {
  const x = () => T.zeros([2, 3]);
  test.each([
    ['an odd pad list', () => T.pad(x(), [1, 2, 3]), /pad: needs pairs for at most 2 dims, got \[1, 2, 3\].*\[2, 3\]/],
    ['too many pairs', () => T.pad(x(), [1, 1, 1, 1, 1, 1]), /pad: needs pairs for at most 2 dims/],
    ['negative pads', () => T.pad(x(), [-1, 0]), /pad: pads must be non-negative integers, got \[-1, 0\]/],
    ['an unknown mode', () => T.pad(x(), [1, 1], 'reflect' as T.PadMode), /pad: unknown mode 'reflect'/],
    ['replicate of an empty dim', () => T.pad(T.zeros([2, 0]), [1, 1], 'replicate'), /pad: replicate padding needs a non-empty dimension.*\[2, 0\]/],
  ])('%s', (_name, fn, message) => {
    expect(fn).toThrow(T.TensorError);
    expect(fn).toThrow(message);
  });
});
