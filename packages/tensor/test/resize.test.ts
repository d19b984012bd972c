import { beforeAll, describe, expect, test } from 'vitest';
import * as T from '../src/index.ts';
import { checkCase, loadGroup } from '../../../test/support/fixtures.ts';
import { gradcheck, type ND, randomND, seededUniform } from '../../../test/support/gradcheck.ts';

beforeAll(async () => {
  await T.init();
});

const group = loadGroup('ops/interpolate.json');

function optionsOf(p: Record<string, unknown>): T.InterpolateOptions {
  return {
    mode: p.mode as T.InterpolateMode,
    size: p.size as [number, number] | undefined,
    scaleFactor: p.scale_factor as number | undefined,
    alignCorners: p.align_corners as boolean | undefined,
    recomputeScaleFactor: p.recompute_scale_factor as boolean | undefined,
  };
}

describe('interpolate against PyTorch fixtures', () => {
  for (const c of group.cases) {
    test(c.name, async () => {
      await checkCase(c, (inp, p) => ({ out: T.interpolate(inp.x, optionsOf(p)) }));
    });
  }
});

/** f64 CPU reference of PyTorch's interpolate (same index rules, f32 scales as PyTorch computes them). */
function cpuInterpolate(x: ND, outH: number, outW: number, mode: T.InterpolateMode, alignCorners: boolean, sf?: number): ND {
  const [N, C, H, W] = x.shape;
  const axisTaps = (inS: number, outS: number): { i: number[]; w: number[] }[] => {
    let scale = alignCorners ? (outS > 1 ? (inS - 1) / (outS - 1) : 0) : sf !== undefined ? 1 / sf : inS / outS;
    if (outS === inS && mode !== 'bicubic') scale = 1;
    if (mode === 'nearest' && outS === 2 * inS) scale = 0.5;
    scale = Math.fround(scale);
    const clampI = (i: number) => Math.min(Math.max(i, 0), inS - 1);
    return Array.from({ length: outS }, (_, o) => {
      if (mode === 'nearest') return { i: [Math.min(Math.floor(Math.fround(o * scale)), inS - 1)], w: [1] };
      const raw = alignCorners ? scale * o : scale * (o + 0.5) - 0.5;
      if (mode === 'bilinear') {
        const src = Math.max(raw, 0);
        const i0 = Math.min(Math.floor(src), inS - 1);
        const l1 = Math.min(Math.max(src - i0, 0), 1);
        return { i: [i0, i0 < inS - 1 ? i0 + 1 : i0], w: [1 - l1, l1] };
      }
      const A = -0.75;
      const ix = Math.min(Math.floor(raw), inS - 1);
      const t = Math.min(Math.max(raw - ix, 0), 1);
      const c1 = (v: number) => ((A + 2) * v - (A + 3)) * v * v + 1;
      const c2 = (v: number) => ((A * v - 5 * A) * v + 8 * A) * v - 4 * A;
      return { i: [-1, 0, 1, 2].map((k) => clampI(ix + k)), w: [c2(t + 1), c1(t), c1(1 - t), c2(2 - t)] };
    });
  };
  const ty = axisTaps(H, outH);
  const tx = axisTaps(W, outW);
  const out = new Float64Array(N * C * outH * outW);
  for (let p = 0; p < N * C; p++) {
    for (let oh = 0; oh < outH; oh++) {
      for (let ow = 0; ow < outW; ow++) {
        let acc = 0;
        ty[oh].i.forEach((iy, k) => tx[ow].i.forEach((ix, l) => (acc += ty[oh].w[k] * tx[ow].w[l] * x.data[(p * H + iy) * W + ix])));
        out[(p * outH + oh) * outW + ow] = acc;
      }
    }
  }
  return { data: out, shape: [N, C, outH, outW] };
}

describe('interpolate gradients by finite differences (f64 CPU reference)', () => {
  const rng = seededUniform(23);
  const cases: [string, number[], [number, number], T.InterpolateMode, boolean][] = [
    ['bilinear up 7x13 -> 13x37', [2, 3, 7, 13], [13, 37], 'bilinear', false],
    ['bilinear down 37x13 -> 7x6', [1, 2, 37, 13], [7, 6], 'bilinear', false],
    ['bilinear align_corners up 7x13 -> 37x13', [1, 3, 7, 13], [37, 13], 'bilinear', true],
    ['bilinear align_corners down 37x13 -> 7x1', [1, 2, 37, 13], [7, 1], 'bilinear', true],
    ['bicubic up 7x13 -> 13x37', [1, 2, 7, 13], [13, 37], 'bicubic', false],
    ['bicubic down 37x13 -> 7x7', [1, 2, 37, 13], [7, 7], 'bicubic', false],
    ['bicubic align_corners 7x13 -> 13x7', [1, 2, 7, 13], [13, 7], 'bicubic', true],
    ['nearest up 7x13 -> 37x26', [2, 2, 7, 13], [37, 26], 'nearest', false],
    ['nearest down 37x13 -> 7x13', [1, 3, 37, 13], [7, 13], 'nearest', false],
  ];
  for (const [label, shape, size, mode, alignCorners] of cases) {
    test(label, async () => {
      await gradcheck({
        label,
        inputs: [randomND(shape, rng)],
        gpu: ([x]) => T.interpolate(x, { size, mode, alignCorners }),
        cpu: ([x]) => cpuInterpolate(x, size[0], size[1], mode, alignCorners),
      });
    });
  }
  test('scaleFactor without recompute samples with 1/scale', async () => {
    const sf = 1.7;
    await gradcheck({
      label: 'bilinear sf 1.7',
      inputs: [randomND([1, 2, 7, 13], rng)],
      gpu: ([x]) => T.interpolate(x, { scaleFactor: sf, mode: 'bilinear' }),
      cpu: ([x]) => cpuInterpolate(x, Math.floor(7 * sf), Math.floor(13 * sf), 'bilinear', false, sf),
    });
    const rec = T.scope(() => T.interpolate(T.zeros([1, 1, 7, 13]), { scaleFactor: sf, mode: 'bilinear', recomputeScaleFactor: true }));
    expect(rec.shape).toEqual([1, 1, 11, 22]);
    rec.dispose();
  });
});

describe('interpolate on views, integers and second derivatives', () => {
  const rng = seededUniform(5);
  test('a permuted (strided) input gives the same result and gradient as a contiguous one', async () => {
    const x = randomND([2, 13, 7, 3], rng); // NHWC storage
    const want = cpuInterpolate(
      { data: Float64Array.from({ length: x.data.length }, (_, i) => {
        const [n, c, h, w] = [Math.floor(i / 273), Math.floor(i / 91) % 3, Math.floor(i / 13) % 7, i % 13];
        return x.data[((n * 13 + w) * 7 + h) * 3 + c];
      }), shape: [2, 3, 7, 13] },
      11, 17, 'bicubic', false,
    );
    await gradcheck({
      label: 'bicubic on permuted view',
      inputs: [x],
      gpu: ([t]) => T.interpolate(T.permute(t, [0, 3, 2, 1]), { size: [11, 17], mode: 'bicubic' }),
      cpu: ([t]) => {
        const [N, Wd, H, C] = t.shape;
        const nchw = new Float64Array(t.data.length);
        for (let n = 0; n < N; n++) for (let w = 0; w < Wd; w++) for (let h = 0; h < H; h++) for (let c = 0; c < C; c++) {
          nchw[((n * C + c) * H + h) * Wd + w] = t.data[((n * Wd + w) * H + h) * C + c];
        }
        return cpuInterpolate({ data: nchw, shape: [N, C, H, Wd] }, 11, 17, 'bicubic', false);
      },
    });
    expect(want.shape).toEqual([2, 3, 11, 17]);
  });

  test('nearest keeps integer label maps exact', async () => {
    const lab = Int32Array.from({ length: 2 * 37 * 29 }, (_, i) => (i * 7919) % 256);
    const got = T.scope(() => T.interpolate(T.tensor(lab, [2, 1, 37, 29]), { scaleFactor: 0.5, mode: 'nearest', recomputeScaleFactor: true }));
    const want = cpuInterpolate({ data: Float64Array.from(lab), shape: [2, 1, 37, 29] }, 18, 14, 'nearest', false);
    expect(got.dtype).toBe('i32');
    expect(Array.from(await got.data())).toEqual(Array.from(want.data));
    got.dispose();
  });

  test('the backward is itself differentiable (createGraph)', async () => {
    const x = T.tensor(Float32Array.from(randomND([1, 2, 7, 13], rng).data), [1, 2, 7, 13]).requiresGrad_();
    const w = T.tensor(Float32Array.from(randomND([1, 2, 13, 37], rng).data), [1, 2, 13, 37]).requiresGrad_();
    const v = randomND([1, 2, 7, 13], rng);
    T.scope(() => {
      T.sum(T.mul(T.interpolate(x, { size: [13, 37], mode: 'bilinear' }), w)).backward(undefined, { createGraph: true });
      const gx = x.grad!;
      // Keep only the second backward's contribution to w.grad.
      w.grad!.dispose();
      w.grad = null;
      T.sum(T.mul(gx, T.tensor(Float32Array.from(v.data), v.shape))).backward();
    });
    // d/dw <interp^T(w), v> = interp(v)
    const want = cpuInterpolate(v, 13, 37, 'bilinear', false);
    const got = await w.grad!.data();
    want.data.forEach((e, i) => expect(Math.abs(got[i] - e)).toBeLessThan(1e-5 + 1e-4 * Math.abs(e)));
    for (const t of [x, w, x.grad!, w.grad!]) t.dispose();
  });
});

describe('interpolate rejects bad input', () => {
  const x4 = () => T.zeros([1, 2, 5, 7]);
  const cases: [string, () => unknown, RegExp][] = [
    ['rank 3', () => T.interpolate(T.zeros([2, 5, 7]), { size: [3, 3], mode: 'bilinear' }), /interpolate: .*rank 4.*\[2, 5, 7\]/],
    ['both size and scale', () => T.interpolate(x4(), { size: 3, scaleFactor: 2 }), /interpolate: give exactly one/],
    ['neither size nor scale', () => T.interpolate(x4(), {}), /interpolate: give exactly one/],
    ['zero scale', () => T.interpolate(x4(), { scaleFactor: 0, mode: 'bilinear' }), /interpolate: scaleFactor .*\[1, 2, 5, 7\]/],
    ['scale giving an empty output', () => T.interpolate(x4(), { scaleFactor: 0.1, mode: 'bilinear' }), /interpolate: .*empty output 0x0/],
    ['non-integer size', () => T.interpolate(x4(), { size: [2.5, 3] }), /interpolate: size must be positive integers/],
    ['align_corners with nearest', () => T.interpolate(x4(), { size: 3, alignCorners: true }), /interpolate: alignCorners/],
    ['bilinear on integers', () => T.interpolate(T.zeros([1, 1, 3, 3], 'i32'), { size: 5, mode: 'bilinear' }), /interpolate: bilinear needs f32/],
  ];
  for (const [label, fn, msg] of cases) {
    test(label, () => {
      T.scope(() => {
        expect(fn).toThrow(msg);
      });
    });
  }
});
