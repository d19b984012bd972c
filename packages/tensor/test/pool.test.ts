import { beforeAll, describe, expect, test } from 'vitest';
import * as T from '../src/index.ts';
import { checkCase, loadGroup } from '../../../test/support/fixtures.ts';
import { gradcheck, type ND, randomND, seededUniform } from '../../../test/support/gradcheck.ts';

beforeAll(async () => {
  await T.init();
});

const group = loadGroup('ops/pool.json');

describe('pooling against PyTorch fixtures', () => {
  for (const c of group.cases) {
    test(c.name, async () => {
      await checkCase(c, (inp, p) => {
        if (p.op !== 'adaptive_max_pool2d') throw new Error(`unexpected op ${String(p.op)}`);
        return { out: T.adaptiveMaxPool2d(inp.x, p.output_size as [number, number]) };
      });
    });
  }
});

type Win = (o: number) => [number, number, number]; // start, end (clipped), divisor extent

const adaptiveWin = (inS: number, outS: number): Win => (o) => {
  const s = Math.floor((o * inS) / outS);
  const e = Math.ceil(((o + 1) * inS) / outS);
  return [s, e, e - s];
};
const fixedWin = (inS: number, k: number, st: number, p: number, includePad: boolean): Win => (o) => {
  const s = o * st - p;
  const e = Math.min(s + k, inS + p);
  const a = Math.max(s, 0);
  const b = Math.min(e, inS);
  return [a, b, includePad ? e - s : b - a];
};

/** f64 CPU pooling over windows given per axis. */
function cpuPool(x: ND, kind: 'max' | 'avg', outH: number, outW: number, wh: Win, ww: Win): ND {
  const [N, C, H, W] = x.shape;
  const out = new Float64Array(N * C * outH * outW);
  for (let pl = 0; pl < N * C; pl++) {
    for (let oh = 0; oh < outH; oh++) {
      for (let ow = 0; ow < outW; ow++) {
        const [h0, h1, eh] = wh(oh);
        const [w0, w1, ew] = ww(ow);
        let acc = kind === 'max' ? -Infinity : 0;
        for (let h = h0; h < h1; h++) {
          for (let w = w0; w < w1; w++) {
            const v = x.data[(pl * H + h) * W + w];
            acc = kind === 'max' ? Math.max(acc, v) : acc + v;
          }
        }
        out[(pl * outH + oh) * outW + ow] = kind === 'max' ? acc : acc / (eh * ew);
      }
    }
  }
  return { data: out, shape: [N, C, outH, outW] };
}

describe('pooling gradients by finite differences (f64 CPU reference)', () => {
  const rng = seededUniform(31);
  const adaptive: [number[], [number, number]][] = [
    [[2, 3, 7, 13], [3, 5]],
    [[1, 2, 13, 37], [1, 1]],
    [[1, 2, 7, 5], [13, 9]],
  ];
  for (const [shape, size] of adaptive) {
    for (const kind of ['max', 'avg'] as const) {
      test(`adaptive ${kind} ${shape.join('x')} -> ${size.join('x')}`, async () => {
        await gradcheck({
          label: `adaptive ${kind}`,
          inputs: [randomND(shape, rng)],
          gpu: ([x]) => (kind === 'max' ? T.adaptiveMaxPool2d(x, size) : T.adaptiveAvgPool2d(x, size)),
          cpu: ([x]) => cpuPool(x, kind, size[0], size[1], adaptiveWin(shape[2], size[0]), adaptiveWin(shape[3], size[1])),
        });
      });
    }
  }
  const windows: [string, number[], T.PoolOptions][] = [
    ['3x3 stride 2 pad 1', [2, 3, 13, 7], { kernelSize: 3, stride: 2, padding: 1 }],
    ['2x3 stride (1, 2) no pad', [1, 2, 7, 13], { kernelSize: [2, 3], stride: [1, 2] }],
    ['5x5 stride 3 pad 2, excluding padding', [1, 2, 13, 37], { kernelSize: 5, stride: 3, padding: 2, countIncludePad: false }],
  ];
  for (const [label, shape, o] of windows) {
    for (const kind of ['max', 'avg'] as const) {
      test(`${kind} pool ${label}`, async () => {
        const [kh, kw] = typeof o.kernelSize === 'number' ? [o.kernelSize, o.kernelSize] : o.kernelSize;
        const [sh, sw] = o.stride === undefined ? [kh, kw] : typeof o.stride === 'number' ? [o.stride, o.stride] : o.stride;
        const [ph, pw] = o.padding === undefined ? [0, 0] : typeof o.padding === 'number' ? [o.padding, o.padding] : o.padding;
        const outH = Math.floor((shape[2] + 2 * ph - kh) / sh) + 1;
        const outW = Math.floor((shape[3] + 2 * pw - kw) / sw) + 1;
        const inc = o.countIncludePad ?? true;
        await gradcheck({
          label: `${kind} pool ${label}`,
          inputs: [randomND(shape, rng)],
          gpu: ([x]) => (kind === 'max' ? T.maxPool2d(x, o) : T.avgPool2d(x, o)),
          cpu: ([x]) => cpuPool(x, kind, outH, outW, fixedWin(shape[2], kh, sh, ph, inc), fixedWin(shape[3], kw, sw, pw, inc)),
        });
      });
    }
  }
});

describe('max pooling indices and views', () => {
  test('ties keep the first index and take the whole gradient', async () => {
    const x = T.tensor([[[[1, 5, 5], [5, 0, 2]]]]).requiresGrad_();
    const { values, indices } = T.adaptiveMaxPool2dWithIndices(x, 1);
    expect(Array.from(await indices.data())).toEqual([1]);
    T.scope(() => T.sum(T.mul(values, 3)).backward());
    expect(Array.from(await x.grad!.data())).toEqual([0, 3, 0, 0, 0, 0]);
    for (const t of [x, values, indices, x.grad!]) t.dispose();
  });

  test('a permuted (strided) input pools in place', async () => {
    const rng = seededUniform(3);
    const nhwc = randomND([2, 7, 13, 3], rng);
    await gradcheck({
      label: 'adaptive max on NHWC view',
      inputs: [nhwc],
      gpu: ([x]) => T.adaptiveMaxPool2d(T.permute(x, [0, 3, 1, 2]), [2, 3]),
      cpu: ([x]) => {
        const [N, H, W, C] = x.shape;
        const nchw = new Float64Array(x.data.length);
        for (let n = 0; n < N; n++) for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) for (let c = 0; c < C; c++) {
          nchw[((n * C + c) * H + h) * W + w] = x.data[((n * H + h) * W + w) * C + c];
        }
        return cpuPool({ data: nchw, shape: [N, C, H, W] }, 'max', 2, 3, adaptiveWin(H, 2), adaptiveWin(W, 3));
      },
    });
  });
});

describe('pooling rejects bad input', () => {
  const x4 = () => T.zeros([1, 2, 5, 7]);
  const cases: [string, () => unknown, RegExp][] = [
    ['rank 3', () => T.adaptiveMaxPool2d(T.zeros([2, 5, 7]), 1), /adaptive_max_pool2d: .*rank 4.*\[2, 5, 7\]/],
    ['output size 0', () => T.adaptiveAvgPool2d(x4(), [0, 2]), /adaptive_avg_pool2d: output size .*\[1, 2, 5, 7\]/],
    ['padding over half the kernel', () => T.maxPool2d(x4(), { kernelSize: 3, padding: 2 }), /max_pool2d: padding \[2,2\] must be at most half/],
    ['kernel larger than the input', () => T.avgPool2d(x4(), { kernelSize: 6 }), /avg_pool2d: kernel \[6,6\].*larger than the input.*\[1, 2, 5, 7\]/],
    ['zero stride', () => T.maxPool2d(x4(), { kernelSize: 2, stride: 0 }), /max_pool2d: kernel .* positive integers/],
    ['integer input', () => T.adaptiveMaxPool2d(T.zeros([1, 1, 3, 3], 'i32'), 1), /adaptive_max_pool2d: needs f32/],
  ];
  for (const [label, fn, msg] of cases) {
    test(label, () => {
      T.scope(() => {
        expect(fn).toThrow(msg);
      });
    });
  }
});
