import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import * as T from '../src/index.ts';
import { setMatmulSubgroups } from '../src/kernels/matmul-run.ts';
import { clearMatmulTuning } from '../src/kernels/matmul-tune.ts';
import { setConvPatchPath } from '../src/ops/conv.ts';
import { checkCase, expectClose, loadGroup } from '../../../test/support/fixtures.ts';
import { gradcheck, type ND, randomND, seededUniform } from '../../../test/support/gradcheck.ts';

beforeAll(async () => {
  await T.init();
});

const group = loadGroup('ops/conv2d.json');

function runCase(inp: Record<string, T.Tensor>, p: Record<string, unknown>) {
  const opts = { stride: p.stride as number, padding: p.padding as number, dilation: p.dilation as number };
  return { out: T.conv2d(inp.x, inp.weight, inp.bias ?? null, opts) };
}

/** Every fixture through each route: the default, the plain (no-subgroup) kernel, and implicit GEMM for patch convs. */
const ROUTES = [
  { name: 'default', subgroups: true, patch: true },
  { name: 'plain kernel', subgroups: false, patch: true },
  { name: 'implicit GEMM only', subgroups: true, patch: false },
];

for (const r of ROUTES) describe(`conv2d against PyTorch fixtures, ${r.name}`, () => {
  beforeAll(() => {
    setMatmulSubgroups(r.subgroups);
    setConvPatchPath(r.patch);
  });
  afterAll(() => {
    setMatmulSubgroups(true);
    setConvPatchPath(true);
  });
  for (const c of group.cases) test(c.name, async () => checkCase(c, runCase));
});

test('the fixture file has the five documented conv cases, all with grads', () => {
  expect(group.cases.map((c) => c.name).sort()).toEqual(['conv1x1_nobias', 'conv3x3_dilation_12', 'conv3x3_dilation_6', 'patch_embed_0', 'patch_embed_1']);
  for (const c of group.cases) expect(Object.keys(c.grads ?? {})).toContain('weight');
});

// ---------------------------------------------------------------- f64 CPU reference

interface Opts {
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
}

/** Direct convolution in f64: out[n,o,i,j] = b[o] + Σ x[n,c,i·s−p+kh·d, j·s−p+kw·d]·w[o,c,kh,kw]. */
function cpuConv(x: ND, w: ND, b: ND | null, o: Opts): ND {
  const [N, C, H, W] = x.shape;
  const [O, , KH, KW] = w.shape;
  const [sh, sw] = o.stride;
  const [ph, pw] = o.padding;
  const [dh, dw] = o.dilation;
  const OH = Math.floor((H + 2 * ph - dh * (KH - 1) - 1) / sh) + 1;
  const OW = Math.floor((W + 2 * pw - dw * (KW - 1) - 1) / sw) + 1;
  const out = new Float64Array(N * O * OH * OW);
  for (let n = 0; n < N; n++)
    for (let oc = 0; oc < O; oc++)
      for (let i = 0; i < OH; i++)
        for (let j = 0; j < OW; j++) {
          let s = b ? b.data[oc] : 0;
          for (let c = 0; c < C; c++)
            for (let kh = 0; kh < KH; kh++) {
              const ih = i * sh - ph + kh * dh;
              if (ih < 0 || ih >= H) continue;
              for (let kw = 0; kw < KW; kw++) {
                const iw = j * sw - pw + kw * dw;
                if (iw < 0 || iw >= W) continue;
                s += x.data[((n * C + c) * H + ih) * W + iw] * w.data[((oc * C + c) * KH + kh) * KW + kw];
              }
            }
          out[((n * O + oc) * OH + i) * OW + j] = s;
        }
  return { data: out, shape: [N, O, OH, OW] };
}

/** Swaps H and W of a dense NCHW array. */
function transposeHW(x: ND): ND {
  const [N, C, H, W] = x.shape;
  const out = new Float64Array(x.data.length);
  for (let p = 0; p < N * C; p++) for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) out[(p * W + w) * H + h] = x.data[(p * H + h) * W + w];
  return { data: out, shape: [N, C, W, H] };
}

interface GradCase {
  label: string;
  x: number[];
  w: number[];
  bias: boolean;
  opts: Opts;
  /** x is stored with H and W swapped and passed as a transposed (strided) view. */
  transposedView?: boolean;
}

const GRAD_CASES: GradCase[] = [
  { label: '3x3 stride 2 pad 1, 7x13', x: [2, 3, 7, 13], w: [4, 3, 3, 3], bias: true, opts: { stride: [2, 2], padding: [1, 1], dilation: [1, 1] } },
  { label: '3x2 kernel, stride (1,2), pad (2,1), dilation (2,3), 13x7', x: [1, 2, 13, 7], w: [3, 2, 3, 2], bias: true, opts: { stride: [1, 2], padding: [2, 1], dilation: [2, 3] } },
  { label: 'dilation 9 > map 7x7, pad 9, no bias', x: [1, 3, 7, 7], w: [2, 3, 3, 3], bias: false, opts: { stride: [1, 1], padding: [9, 9], dilation: [9, 9] } },
  { label: 'stride 3 with dilation 2 and pad 2, 13x13', x: [2, 2, 13, 13], w: [3, 2, 3, 3], bias: true, opts: { stride: [3, 3], padding: [2, 2], dilation: [2, 2] } },
  { label: 'patch conv 4x4/4 with remainder, 13x7', x: [2, 3, 13, 7], w: [5, 3, 4, 4], bias: true, opts: { stride: [4, 4], padding: [0, 0], dilation: [1, 1] } },
  { label: 'patch conv 2x3/(2,3), 7x13', x: [1, 2, 7, 13], w: [3, 2, 2, 3], bias: false, opts: { stride: [2, 3], padding: [0, 0], dilation: [1, 1] } },
  { label: '1x1 stride 1, 7x13', x: [2, 5, 7, 13], w: [3, 5, 1, 1], bias: true, opts: { stride: [1, 1], padding: [0, 0], dilation: [1, 1] } },
  {
    label: '3x3 dilation 2 pad 2 on a transposed view, 13x7',
    x: [1, 3, 7, 13],
    w: [2, 3, 3, 3],
    bias: true,
    opts: { stride: [1, 1], padding: [2, 2], dilation: [2, 2] },
    transposedView: true,
  },
];

describe('conv2d finite differences against an f64 CPU conv', () => {
  for (const c of GRAD_CASES) {
    test(c.label, async () => {
      const rng = seededUniform(c.x.concat(c.w).reduce((a, b) => a * 31 + b, 3));
      const inputs = [randomND(c.x, rng), randomND(c.w, rng)];
      if (c.bias) inputs.push(randomND([c.w[0]], rng));
      await gradcheck({
        label: c.label,
        inputs,
        gpu: ([x, w, b]) => {
          const xv = c.transposedView ? T.transpose(x, 2, 3) : x;
          const y = T.conv2d(xv, w, b ?? null, c.opts);
          if (xv !== x) xv.dispose();
          return y;
        },
        cpu: ([x, w, b]) => cpuConv(c.transposedView ? transposeHW(x) : x, w, b ?? null, c.opts),
      });
    });
  }
});

describe('conv2d behaviour', () => {
  test('patch and implicit-GEMM routes agree on a ViT-style 16x16/16 embedding, gradients included', async () => {
    const rng = seededUniform(11);
    const xs = randomND([2, 3, 37, 53], rng);
    const ws = randomND([8, 3, 16, 16], rng);
    const bs = randomND([8], rng);
    const gs = randomND([2, 8, 2, 3], rng);
    const run = async (patch: boolean) => {
      setConvPatchPath(patch);
      const made: T.Tensor[] = [];
      try {
        const [x, w, b] = [xs, ws, bs].map((v) => T.tensor(Float32Array.from(v.data), v.shape).requiresGrad_());
        const y = T.conv2d(x, w, b, { stride: 16 });
        T.scope(() => T.sum(T.mul(y, T.tensor(Float32Array.from(gs.data), gs.shape))).backward());
        made.push(x, w, b, y, x.grad!, w.grad!, b.grad!);
        return [await y.data(), await x.grad!.data(), await w.grad!.data(), await b.grad!.data()];
      } finally {
        setConvPatchPath(true);
        for (const t of made) t.dispose();
      }
    };
    const a = await run(true);
    const b = await run(false);
    ['out', 'dx', 'dw', 'db'].forEach((name, i) => expectClose(a[i], b[i], { rtol: 1e-4, atol: 1e-5 }, name));
    // Remainder pixels (rows 32..36, columns 48..52) get no gradient.
    const dx = a[1];
    expect(dx[0 * 37 * 53 + 36 * 53 + 10]).toBe(0);
    expect(dx[0 * 37 * 53 + 10 * 53 + 52]).toBe(0);
  });

  test('backward is deterministic: two runs give bitwise equal gradients', async () => {
    const rng = seededUniform(5);
    const xs = randomND([2, 6, 13, 11], rng);
    const ws = randomND([5, 6, 3, 3], rng);
    const once = async () => {
      const [x, w] = [xs, ws].map((v) => T.tensor(Float32Array.from(v.data), v.shape).requiresGrad_());
      T.scope(() => {
        const y = T.conv2d(x, w, null, { padding: 6, dilation: 6 });
        T.sum(T.mul(y, y)).backward();
      });
      const r = [await x.grad!.data(), await w.grad!.data()];
      for (const t of [x.grad!, w.grad!, x, w]) t.dispose();
      return r;
    };
    const [a, b] = [await once(), await once()];
    expect(Array.from(a[0])).toEqual(Array.from(b[0]));
    expect(Array.from(a[1])).toEqual(Array.from(b[1]));
  });

  test('no tensors leak from forward and backward', async () => {
    const before = T.liveTensors().length;
    T.scope(() => {
      const x = T.randn([1, 3, 9, 7]).requiresGrad_();
      const w = T.randn([4, 3, 3, 3]).requiresGrad_();
      const b = T.randn([4]).requiresGrad_();
      T.sum(T.conv2d(x, w, b, { stride: 2, padding: 1 })).backward();
      T.sum(T.conv2d(x, w, b, { stride: 3 })).backward();
      for (const t of [x, w, b]) t.grad!.dispose();
    });
    expect(T.liveTensors().length).toBe(before);
  });

  test('autotuneConv2d times candidates, stores the winner, and conv2d with it still matches the CPU conv', async () => {
    const rng = seededUniform(9);
    const xs = randomND([1, 6, 13, 11], rng);
    const ws = randomND([7, 6, 3, 3], rng);
    const opts = { padding: 12, dilation: 12 };
    const [x, w] = [xs, ws].map((v) => T.tensor(Float32Array.from(v.data), v.shape));
    try {
      const r = await T.autotuneConv2d(x, w, null, opts);
      expect(r.timings.length).toBeGreaterThan(1);
      expect(r.timings.map((t) => t.config)).toContainEqual(r.config);
      const y = T.conv2d(x, w, null, opts);
      const ref = cpuConv(xs, ws, null, { stride: [1, 1], padding: [12, 12], dilation: [12, 12] });
      expectClose(await y.data(), ref.data, { rtol: 1e-4, atol: 1e-5 }, 'tuned conv');
      y.dispose();
    } finally {
      clearMatmulTuning();
      x.dispose();
      w.dispose();
    }
  });

  test('bad input names the op and the shapes', () => {
    const x = T.zeros([1, 3, 8, 8]);
    const w = T.zeros([4, 3, 3, 3]);
    const cases: [() => unknown, RegExp][] = [
      [() => T.conv2d(x, T.zeros([4, 2, 3, 3])), /conv2d: x has 3 channels but weight expects 2 \(shapes \[1, 3, 8, 8\], \[4, 2, 3, 3\]\)/],
      [() => T.conv2d(T.zeros([3, 8, 8]), w), /conv2d: x must be 4-D.*\[3, 8, 8\]/],
      [() => T.conv2d(x, T.zeros([4, 3, 3])), /conv2d: weight must be 4-D/],
      [() => T.conv2d(x, w, T.zeros([3])), /conv2d: bias must have shape \[4\].*\[3\]/],
      [() => T.conv2d(x, w, null, { stride: 0 }), /conv2d: stride must be positive integers.*\[1, 3, 8, 8\]/],
      [() => T.conv2d(x, w, null, { stride: 1.5 }), /conv2d: stride must be positive/],
      [() => T.conv2d(x, w, null, { padding: -1 }), /conv2d: padding must be non-negative/],
      [() => T.conv2d(x, w, null, { dilation: [1, 0] }), /conv2d: dilation must be positive/],
      [() => T.conv2d(x, T.zeros([4, 3, 9, 3])), /conv2d: output size 0x6 is not positive.*\[4, 3, 9, 3\]/],
      [() => T.conv2d(x, w, null, { dilation: 5 }), /conv2d: output size -2x-2 is not positive/],
    ];
    for (const [fn, re] of cases) expect(fn).toThrow(re);
    expect(() => T.conv2d(x, w, null, { dilation: 5 })).toThrow(T.TensorError);
    for (const t of [x, w]) t.dispose();
  });
});

describe('nn.Conv2d', () => {
  test('timm parameter names, shapes and PyTorch init bounds, seeded', async () => {
    const conv = new T.nn.Conv2d(3, 32, 16, { stride: 16, generator: new T.Generator(1) });
    expect(conv.namedParameters().map(([n, t]) => [n, t.shape])).toEqual([
      ['weight', [32, 3, 16, 16]],
      ['bias', [32]],
    ]);
    expect(Object.keys(conv.stateDict('patch_embed.proj'))).toEqual(['patch_embed.proj.weight', 'patch_embed.proj.bias']);
    const bound = 1 / Math.sqrt(3 * 16 * 16);
    const w = Array.from(await conv.weight.data());
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...w.map(Math.abs))).toBeGreaterThan(0.95 * bound);
    const variance = w.reduce((s, v) => s + v * v, 0) / w.length;
    expect(variance).toBeGreaterThan(0.9 * (bound * bound) / 3);
    expect(variance).toBeLessThan(1.1 * (bound * bound) / 3);
    const b = Array.from(await conv.bias!.data());
    expect(Math.max(...b.map(Math.abs))).toBeLessThanOrEqual(bound);
    const again = new T.nn.Conv2d(3, 32, 16, { stride: 16, generator: new T.Generator(1) });
    expect(Array.from(await again.weight.data())).toEqual(w);
    conv.dispose();
    again.dispose();
  });

  test('bias: false has only a weight; forward is conv2d with the stored options', async () => {
    const conv = new T.nn.Conv2d(4, 2, [3, 1], { padding: [6, 0], dilation: [6, 1], bias: false });
    expect(conv.namedParameters().map(([n]) => n)).toEqual(['weight']);
    expect(conv.bias).toBeNull();
    const x = T.randn([1, 4, 9, 5]);
    const y = conv.forward(x);
    const ref = T.conv2d(x, conv.weight, null, { padding: [6, 0], dilation: [6, 1] });
    expect(y.shape).toEqual([1, 2, 9, 5]);
    expect(Array.from(await y.data())).toEqual(Array.from(await ref.data()));
    for (const t of [x, y, ref]) t.dispose();
    conv.dispose();
  });

  test('rejects non-positive sizes', () => {
    expect(() => new T.nn.Conv2d(0, 4, 3)).toThrow(/Conv2d: channels and kernel size must be positive integers/);
    expect(() => new T.nn.Conv2d(3, 4, [3, 0])).toThrow(T.TensorError);
  });
});
