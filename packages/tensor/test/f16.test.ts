// f16 storage with f32 accumulation: values round-trip bit-exactly, every f16 kernel agrees with an f64 CPU
// reference of the half-rounded inputs at f16 tolerances, gradients match the f32 model, and everything else
// refuses f16 with a named TensorError.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import * as T from '../src/index.ts';
import { nn, type Tensor } from '../src/index.ts';
import { checkF16Support } from '../src/f16.ts';
import { setMatmulSubgroups } from '../src/kernels/matmul-run.ts';
import { withF16Enable } from '../src/runtime/engine.ts';
import { seededUniform } from '../../../test/support/gradcheck.ts';

const SIZES = [7, 13, 37, 197];
const h = (v: number) => T.halfToFloat(T.floatToHalf(v));

beforeAll(async () => {
  await T.init();
});

/** Uniform values already rounded to halves, so the reference sees exactly what the GPU stores. */
function halves(n: number, seed: number, lo = -2, hi = 2): number[] {
  const rng = seededUniform(seed);
  return Array.from({ length: n }, () => h(rng(lo, hi)));
}

function expectNear(got: ArrayLike<number>, want: ArrayLike<number>, rtol: number, atol: number, what: string): void {
  expect(got.length, what).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]);
    if (!(err <= atol + rtol * Math.abs(want[i]))) {
      throw new Error(`${what}: element ${i} is ${got[i]}, want ${want[i]} (error ${err})`);
    }
  }
}

describe('f16 storage', () => {
  test('the test adapter has shader-f16 (lavapipe does), so the kernels below really run', () => {
    expect(T.engine().supportsF16).toBe(true);
  });

  test('values round-trip through f16 storage: subnormals, ±65504, ±inf, NaN, -0 and round-to-nearest-even', async () => {
    const vals = [0, -0, 1, -2.5, 2 ** -24, 3 * 2 ** -24, 2 ** -14, 65504, -65504, 65520, Infinity, -Infinity, NaN, 1 + 2 ** -11, 1e-8, 0.1];
    const t = T.tensor(vals, [vals.length], 'f16');
    expect(t.dtype).toBe('f16');
    const raw = (await t.data({ raw: true })) as Uint16Array;
    expect(raw).toBeInstanceOf(Uint16Array);
    expect([...raw.slice(0, 13)]).toEqual([0x0000, 0x8000, 0x3c00, 0xc100, 0x0001, 0x0003, 0x0400, 0x7bff, 0xfbff, 0x7c00, 0x7c00, 0xfc00, raw[12]]);
    expect(raw[12] & 0x7c00).toBe(0x7c00); // NaN: exponent all ones with a payload
    expect(raw[12] & 0x3ff).not.toBe(0);
    expect(raw[13]).toBe(0x3c00); // 1 + 2^-11 is a tie: rounds to the even 1.0
    expect(raw[14]).toBe(0); // below half the smallest subnormal
    const back = await t.data();
    expect(back).toBeInstanceOf(Float32Array);
    expect([...back].map((v, i) => (Number.isNaN(vals[i]) ? Number.isNaN(v) : Object.is(v, h(vals[i]))))).toEqual(vals.map(() => true));
    expect(t.buffer.size % 4).toBe(0);
    t.dispose();
  });

  test('an odd element count and a view at an odd element offset read back correctly', async () => {
    const vals = halves(13, 1);
    const t = T.tensor(vals, [13], 'f16');
    expect([...(await t.data())]).toEqual(vals);
    const s = T.narrow(t, 0, 3, 7);
    expect(s.offset).toBe(3);
    expect([...(await s.data())]).toEqual(vals.slice(3, 10));
    const r = T.reshape(T.narrow(t, 0, 1, 12), [3, 4]);
    expect((await T.transpose(r).array()) as number[][]).toEqual([0, 1, 2, 3].map((j) => [0, 1, 2].map((i) => vals[1 + i * 4 + j])));
    for (const x of [t, s, r]) x.dispose();
  });

  test('split gives f16 views, and its gradient concatenates the pieces\' (zeros for an unused piece)', async () => {
    const vals = halves(13, 2);
    const t = T.tensor(vals, [13], 'f16').requiresGrad_();
    const pieces = T.split(t, 5);
    expect(pieces.map((p) => [p.dtype, p.offset, p.shape[0]])).toEqual([['f16', 0, 5], ['f16', 5, 5], ['f16', 10, 3]]);
    expect([...(await pieces[2].data())]).toEqual(vals.slice(10));
    const y = T.concat([T.mul(pieces[2], 2), pieces[0]]);
    y.backward(T.ones([8], 'f16'));
    expect(t.grad!.dtype).toBe('f16');
    expect([...(await t.grad!.data())]).toEqual([1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 2, 2, 2]);
  });

  test('full, zeros, ones, arange, rand and randn make f16 tensors (rand is the f32 draw rounded)', async () => {
    expect([...(await T.full([5], 0.1, 'f16').data())]).toEqual(Array(5).fill(h(0.1)));
    expect([...(await T.ones([3], 'f16').data())]).toEqual([1, 1, 1]);
    expect([...(await T.arange(0, 2.5, 0.5, 'f16').data())]).toEqual([0, 0.5, 1, 1.5, 2]);
    const g1 = new T.Generator(7);
    const g2 = new T.Generator(7);
    const r32 = await T.rand([197], -1, 1, g1).data();
    const r16 = T.rand([197], -1, 1, g2, 'f16');
    expect(r16.dtype).toBe('f16');
    expect([...(await r16.data())]).toEqual([...r32].map(h));
    const n16 = T.randn([64], 0, 1, new T.Generator(3), 'f16');
    expect([...(await n16.data())]).toEqual([...(await T.randn([64], 0, 1, new T.Generator(3)).data())].map(h));
  });

  test('cast between f32 and f16 rounds to nearest even and overflows to inf', async () => {
    const x = T.tensor([1 + 2 ** -11, 1 + 3 * 2 ** -11, 70000, -1e-9, 2 ** -25 * 1.5]);
    const y = T.cast(x, 'f16');
    expect(y.dtype).toBe('f16');
    expect([...(await y.data())]).toEqual([1, 1 + 2 ** -9, Infinity, -0, 2 ** -24]);
    const z = T.cast(y, 'f32');
    expect(z.dtype).toBe('f32');
    expect([...(await z.data())]).toEqual([1, 1 + 2 ** -9, Infinity, -0, 2 ** -24]);
  });
});

describe('f16 elementwise ops and promotion', () => {
  const RT = 1e-2;
  const AT = 1e-3;
  for (const n of SIZES) {
    test(`unary and binary ops at n=${n} against f64 with f16 tolerances`, async () => {
      const av = halves(n, n);
      const bv = halves(n, n + 100, 0.5, 2);
      const a = T.tensor(av, [n], 'f16');
      const b = T.tensor(bv, [n], 'f16');
      const cases: [string, Tensor, (i: number) => number][] = [
        ['add', T.add(a, b), (i) => av[i] + bv[i]],
        ['mul', T.mul(a, b), (i) => av[i] * bv[i]],
        ['div', T.div(a, b), (i) => av[i] / bv[i]],
        ['sub scalar', T.sub(a, 0.3), (i) => av[i] - 0.3],
        ['exp', T.exp(a), (i) => Math.exp(av[i])],
        ['tanh', T.tanh(a), (i) => Math.tanh(av[i])],
        ['sigmoid', T.sigmoid(a), (i) => 1 / (1 + Math.exp(-av[i]))],
        ['sqrt', T.sqrt(b), (i) => Math.sqrt(bv[i])],
        ['gelu', T.gelu(a), (i) => 0.5 * av[i] * (1 + erf(av[i] / Math.SQRT2))],
        ['maximum', T.maximum(a, b), (i) => Math.max(av[i], bv[i])],
        ['where', T.where(T.gt(a, 0), a, b), (i) => (av[i] > 0 ? av[i] : bv[i])],
      ];
      for (const [name, y, f] of cases) {
        expect(y.dtype, name).toBe('f16');
        expectNear(await y.data(), av.map((_, i) => f(i)), RT, AT, name);
      }
    });
  }

  test('promotion follows PyTorch: f16·f16 → f16, f16·f32 → f32, f16·int → f16, a fractional scalar keeps f16', async () => {
    const a = T.tensor([1.5, -2], [2], 'f16');
    const f = T.tensor([0.25, 4]);
    const i = T.tensor([3, -1], [2], 'i32');
    expect(T.add(a, a).dtype).toBe('f16');
    const af = T.add(a, f);
    expect(af.dtype).toBe('f32');
    expect([...(await af.data())]).toEqual([1.75, 2]);
    const ai = T.mul(a, i);
    expect(ai.dtype).toBe('f16');
    expect([...(await ai.data())]).toEqual([4.5, 2]);
    expect(T.mul(a, 0.5).dtype).toBe('f16');
    expect(T.lt(a, f).dtype).toBe('u32');
    expect(T.div(i, 2).dtype).toBe('f32');
  });

  test('broadcasting and strided views are read in place', async () => {
    const xv = halves(37 * 13, 5);
    const bv = halves(13, 6);
    const x = T.tensor(xv, [37, 13], 'f16');
    const b = T.tensor(bv, [13], 'f16');
    const y = T.add(T.transpose(x), T.reshape(b, [13, 1]));
    expect(y.shape).toEqual([13, 37]);
    const want = Array.from({ length: 13 * 37 }, (_, k) => xv[(k % 37) * 13 + Math.floor(k / 37)] + bv[Math.floor(k / 37)]);
    expectNear(await y.data(), want, 1e-3, 1e-3, 'broadcast add');
  });
});

describe('f16 reductions accumulate in f32', () => {
  for (const n of SIZES) {
    test(`sum, mean, amax, argmax over [${n}, 13] along both axes`, async () => {
      const xv = halves(n * 13, 40 + n);
      const x = T.tensor(xv, [n, 13], 'f16');
      const col = (j: number) => Array.from({ length: n }, (_, i) => xv[i * 13 + j]);
      const row = (i: number) => xv.slice(i * 13, i * 13 + 13);
      const s0 = T.sum(x, 0);
      expect(s0.dtype).toBe('f16');
      expectNear(await s0.data(), Array.from({ length: 13 }, (_, j) => col(j).reduce((p, q) => p + q, 0)), 1e-2, 1e-2, 'sum axis 0');
      expectNear(await T.mean(x, 1).data(), Array.from({ length: n }, (_, i) => row(i).reduce((p, q) => p + q, 0) / 13), 1e-2, 1e-3, 'mean axis 1');
      expectNear(await T.amax(x, 0).data(), Array.from({ length: 13 }, (_, j) => Math.max(...col(j))), 0, 0, 'amax');
      const am = await T.argmax(x, 1).data();
      expect([...am]).toEqual(Array.from({ length: n }, (_, i) => row(i).indexOf(Math.max(...row(i)))));
    });
  }

  test('a long sum (chunked two-pass path) of 40000 halves is accurate, and a mean of a sum past 65504 is finite', async () => {
    const xv = halves(2 * 20000, 9, 0, 1);
    const x = T.tensor(xv, [2, 20000], 'f16');
    const s = await T.sum(x, 1).data();
    for (let r = 0; r < 2; r++) {
      const want = xv.slice(r * 20000, (r + 1) * 20000).reduce((p, q) => p + q, 0);
      // One rounding to f16 at the end: half an ulp of ~10000 is 4; pure f16 accumulation would be off by thousands.
      expect(Math.abs(s[r] - want)).toBeLessThanOrEqual(4);
    }
    const big = T.full([3, 70000], 3, 'f16');
    expect([...(await T.mean(big, 1).data())]).toEqual([3, 3, 3]);
    expect(await T.sum(big).item()).toBe(Infinity); // the f16 result overflows, as in PyTorch
  });
});

/** f64 reference of A·B (+ bias); `pureHalf` rounds after every multiply-add, as an f16 accumulator would. */
function refMatmul(a: number[], b: number[], M: number, K: number, N: number, pureHalf = false, bias?: number[]): number[] {
  const out = new Array<number>(M * N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let acc = 0;
      for (let k = 0; k < K; k++) {
        acc += a[i * K + k] * b[k * N + j];
        if (pureHalf) acc = h(acc);
      }
      out[i * N + j] = acc + (bias ? bias[j] : 0);
    }
  }
  return out;
}

for (const sg of [true, false]) {
  describe(`f16 matmul, ${sg ? 'subgroup' : 'plain'} kernel`, () => {
    beforeAll(() => setMatmulSubgroups(sg));
    afterAll(() => setMatmulSubgroups(true));
    const shapes: [number, number, number][] = [
      [7, 13, 37],
      [37, 197, 13],
      [197, 37, 197],
      [13, 7, 7],
    ];
    for (const [M, K, N] of shapes) {
      test(`${M}x${K} · ${K}x${N} (also transposed operands) within one f16 rounding of f64`, async () => {
        const av = halves(M * K, M + K, -1, 1);
        const bv = halves(K * N, K + N, -1, 1);
        const want = refMatmul(av, bv, M, K, N);
        const a = T.tensor(av, [M, K], 'f16');
        const b = T.tensor(bv, [K, N], 'f16');
        const c = T.matmul(a, b);
        expect(c.dtype).toBe('f16');
        // f32 accumulation: the only sizeable error is the final rounding to f16 (2^-11 relative).
        expectNear(await c.data(), want, 2 ** -10, 1e-4, 'matmul');
        const at = T.contiguous(T.transpose(a));
        const bt = T.contiguous(T.transpose(b));
        expectNear(await T.matmul(at, bt, { transposeA: true, transposeB: true }).data(), want, 2 ** -10, 1e-4, 'aᵀ·bᵀ');
        expectNear(await T.matmul(a, bt, { transposeB: true }).data(), want, 2 ** -10, 1e-4, 'a·bᵀ');
      });
    }

    test('autotuning an f16 product picks a tile and later f16 products stay correct', async () => {
      const av = halves(37 * 64, 3, -1, 1);
      const bv = halves(64 * 13, 4, -1, 1);
      const a = T.tensor(av, [37, 64], 'f16');
      const b = T.tensor(bv, [64, 13], 'f16');
      const tuned = await T.autotuneMatmul(a, b);
      expect(tuned.timings.map((t) => t.config)).toContainEqual(tuned.config);
      expectNear(await T.matmul(a, b).data(), refMatmul(av, bv, 37, 64, 13), 2 ** -10, 1e-4, 'tuned');
    });

    test('linear with bias on a batched input, and f32 accumulation beats pure-f16 accumulation at K=1024', async () => {
      const [B, S, K, N] = [2, 37, 1024, 13];
      const xv = halves(B * S * K, 11, 0, 1);
      const wv = halves(N * K, 12, 0, 1);
      const bv = halves(N, 13);
      const wT = Array.from({ length: K * N }, (_, i) => wv[(i % N) * K + Math.floor(i / N)]);
      const y = T.linear(T.tensor(xv, [B, S, K], 'f16'), T.tensor(wv, [N, K], 'f16'), T.tensor(bv, [N], 'f16'));
      expect(y.dtype).toBe('f16');
      expect(y.shape).toEqual([B, S, N]);
      const got = await y.data();
      const want = refMatmul(xv, wT, B * S, K, N, false, bv);
      const pure = refMatmul(xv, wT, B * S, K, N, true, bv);
      const maxErr = (v: ArrayLike<number>) => Math.max(...want.map((w, i) => Math.abs(v[i] - w) / Math.abs(w)));
      expect(maxErr(got)).toBeLessThan(2 ** -10);
      expect(maxErr(pure)).toBeGreaterThan(4 * maxErr(got));
    });
  });
}

describe('f16 autograd', () => {
  test('gradients of a small f16 MLP match the f32 one within f16 tolerance, and come back as f16', async () => {
    const f32 = new nn.Sequential(new nn.Linear(13, 37, { generator: new T.Generator(1) }), new nn.GELU(), new nn.Linear(37, 7, { generator: new T.Generator(2) }));
    const f16 = new nn.Sequential(new nn.Linear(13, 37), new nn.GELU(), new nn.Linear(37, 7));
    f16.to('f16');
    f16.loadStateDict(f32.stateDict()); // f32 records convert into f16 parameters
    // The f32 model gets the same half-rounded weights, so only arithmetic precision differs.
    f32.loadStateDict(f16.stateDict());
    const xv = halves(5 * 13, 21);
    const run = (m: typeof f32, dtype: 'f16' | 'f32') =>
      T.scope(() => {
        const y = m.forward(T.tensor(xv, [5, 13], dtype));
        const l = T.mean(T.square(y));
        l.backward();
        return l;
      });
    const l32 = run(f32, 'f32');
    const l16 = run(f16, 'f16');
    expect(l16.dtype).toBe('f16');
    expect(Math.abs((await l16.item()) - (await l32.item()))).toBeLessThan(1e-2 * Math.abs(await l32.item()) + 1e-4);
    const p32 = f32.namedParameters();
    const p16 = f16.namedParameters();
    expect(p16.map(([n]) => n)).toEqual(p32.map(([n]) => n));
    for (let i = 0; i < p32.length; i++) {
      const [name, t32] = p32[i];
      const t16 = p16[i][1];
      expect(t16.dtype, name).toBe('f16');
      expect(t16.grad!.dtype, name).toBe('f16');
      const g32 = await t32.grad!.data();
      const scale = Math.max(...[...g32].map(Math.abs));
      expectNear(await t16.grad!.data(), g32, 2e-2, 2e-3 * scale, `grad of ${name}`);
    }
  });

  test('the gradient of an f16 input through a cast or a mixed op is f16', async () => {
    const x = T.requireGrad(T.tensor([0.5, -1.25, 3], [3], 'f16'));
    const y = T.mul(T.cast(x, 'f32'), T.tensor([2, 2, 2]));
    const l = T.sum(T.add(y, x)); // x also meets an f32 tensor directly: f16 + f32 → f32
    expect(l.dtype).toBe('f32');
    l.backward();
    expect(x.grad!.dtype).toBe('f16');
    expect([...(await x.grad!.data())]).toEqual([3, 3, 3]);
  });
});

describe('f16 models', () => {
  test('module.to keeps names and parameter handles, converts values, and goes back to f32', async () => {
    const m = new nn.Sequential(new nn.Linear(13, 7), new nn.LayerNorm([7]));
    const lin = m.getSubmodule('0') as nn.Linear;
    const w = lin.weight;
    const before = [...(await w.data())];
    const names = m.namedParameters().map(([n]) => n);
    m.to('f16');
    expect(lin.weight).toBe(w);
    expect(w.dtype).toBe('f16');
    expect(w.requiresGrad).toBe(true);
    expect(m.namedParameters().map(([n]) => n)).toEqual(names);
    expect([...(await w.data())]).toEqual(before.map(h));
    const y = lin.forward(T.ones([2, 13], 'f16'));
    expect(y.dtype).toBe('f16');
    m.to('f32');
    expect(w.dtype).toBe('f32');
    expect([...(await w.data())]).toEqual(before.map(h));
  });

  test('loadStateDict converts f32 tensors and host arrays into f16 parameters', async () => {
    const m = new nn.Linear(3, 2).to('f16');
    m.loadStateDict({ weight: T.tensor([[0.1, 0.2, 0.3], [1, 2, 70000]]), bias: { shape: [2], data: [0.5, 1e-8] } });
    expect([...(await m.weight.data())]).toEqual([0.1, 0.2, 0.3, 1, 2, Infinity].map(h));
    expect([...(await m.bias!.data())]).toEqual([0.5, 0]);
    expect(() => m.loadStateDict({ weight: T.zeros([2, 3], 'i32'), bias: T.zeros([2]) })).toThrow(/dtype i32, expected f16/);
  });
});

/**
 * Runs `f` on f16 and on f32 copies of the same half-rounded inputs, backpropagates Σ y·r (r a fixed
 * half-rounded probe) and compares the outputs and every input gradient at f16 tolerances.
 */
async function compareF16(
  what: string,
  inputs: { shape: number[]; lo?: number; hi?: number; dtype16?: 'f16' | 'f32' }[],
  f: (xs: Tensor[]) => Tensor,
  tol: { rtol?: number; atol?: number; gradRtol?: number; gradAtol?: number } = {},
): Promise<void> {
  const { rtol = 1e-2, atol = 1e-3, gradRtol = 2e-2, gradAtol = 2e-3 } = tol;
  const vals = inputs.map((s, i) => halves(s.shape.reduce((p, q) => p * q, 1), 1000 + 17 * i + what.length, s.lo ?? -2, s.hi ?? 2));
  const run = (dtype: 'f16' | 'f32') =>
    T.scope(() => {
      const xs = inputs.map((s, i) => T.requireGrad(T.tensor(vals[i], s.shape, dtype === 'f16' ? (s.dtype16 ?? 'f16') : 'f32')));
      const y = f(xs);
      const r = T.tensor(halves(y.shape.reduce((p, q) => p * q, 1), 7, -1, 1), y.shape, y.dtype);
      T.sum(T.mul(y, r)).backward();
      return [y, ...xs.map((x) => x.grad!)];
    });
  const [y32, ...g32] = run('f32');
  const [y16, ...g16] = run('f16');
  expect(y16.dtype, what).toBe('f16');
  expectNear(await y16.data(), await y32.data(), rtol, atol, `${what} forward`);
  for (let i = 0; i < g32.length; i++) {
    expect(g16[i].dtype, `${what} grad ${i}`).toBe(inputs[i].dtype16 ?? 'f16');
    const want = await g32[i].data();
    const scale = Math.max(1, ...[...want].map(Math.abs));
    expectNear(await g16[i].data(), want, gradRtol, gradAtol * scale, `${what} grad ${i}`);
  }
}

test('f16 concat (a strided copy) along an inner dim, with gradients', async () => {
  await compareF16('concat', [{ shape: [2, 1, 13] }, { shape: [2, 37, 13] }], ([a, b]) => T.concat([a, b], 1), { rtol: 0, atol: 0, gradRtol: 0, gradAtol: 0 });
});

test('f16 interpolate (bicubic, bilinear, nearest; f32 taps), with gradients', async () => {
  for (const mode of ['bicubic', 'bilinear', 'nearest'] as const) {
    await compareF16(`interpolate ${mode} up`, [{ shape: [1, 7, 13, 7] }], ([x]) => T.interpolate(x, { size: [37, 13], mode }));
    await compareF16(`interpolate ${mode} down`, [{ shape: [2, 3, 37, 13] }], ([x]) => T.interpolate(x, { size: [7, 7], mode }));
  }
  await compareF16('interpolate same size', [{ shape: [1, 13, 7, 7] }], ([x]) => T.interpolate(x, { size: [7, 7], mode: 'bicubic', alignCorners: false }));
});

describe('f16 pooling (f32 compare and sums; ties keep the first index)', () => {
  for (const n of SIZES) {
    test(`adaptive max/avg pool and windowed max/avg pool over [2, 3, ${n}, 7], with gradients`, async () => {
      const x = [{ shape: [2, 3, n, 7] }];
      await compareF16(`adaptiveMaxPool2d global ${n}`, x, ([v]) => T.adaptiveMaxPool2d(v, 1), { rtol: 0, atol: 0, gradRtol: 0, gradAtol: 0 });
      // Overlapping windows sum gradients (in f32, rounded once), so only the forward is exact.
      await compareF16(`adaptiveMaxPool2d 3x2 ${n}`, x, ([v]) => T.adaptiveMaxPool2d(v, [3, 2]), { rtol: 0, atol: 0 });
      await compareF16(`adaptiveAvgPool2d ${n}`, x, ([v]) => T.adaptiveAvgPool2d(v, [3, 2]));
      await compareF16(`maxPool2d ${n}`, x, ([v]) => T.maxPool2d(v, { kernelSize: 3, stride: 2, padding: 1 }), { rtol: 0, atol: 0 });
      await compareF16(`avgPool2d ${n}`, x, ([v]) => T.avgPool2d(v, { kernelSize: 3, stride: 2, padding: 1 }));
    });
  }
});

describe('f16 softmax and logSoftmax (f32 max/sum inside)', () => {
  for (const n of SIZES) {
    test(`softmax and logSoftmax over [5, ${n}] (last dim) and [${n}, 7] (dim 0, strided rows), with gradients`, async () => {
      await compareF16(`softmax ${n}`, [{ shape: [5, n] }], ([x]) => T.softmax(x, -1));
      await compareF16(`logSoftmax ${n}`, [{ shape: [5, n] }], ([x]) => T.logSoftmax(x, -1));
      await compareF16(`softmax dim0 ${n}`, [{ shape: [n, 7] }], ([x]) => T.softmax(x, 0));
      await compareF16(`logSoftmax dim0 ${n}`, [{ shape: [n, 7] }], ([x]) => T.logSoftmax(x, 0));
    });
  }

  test('a long row (workgroup-per-row path) and large logits stay finite', async () => {
    await compareF16('softmax long', [{ shape: [3, 1000], lo: -30, hi: 30 }], ([x]) => T.softmax(x, -1), { atol: 1e-3 });
    await compareF16('logSoftmax long', [{ shape: [3, 1000], lo: -30, hi: 30 }], ([x]) => T.logSoftmax(x, -1), { atol: 2e-2, gradAtol: 2e-2 });
  });
});

describe('f16 layerNorm (f32 statistics; weight/bias f16 or f32)', () => {
  for (const n of SIZES) {
    test(`layerNorm over [3, 5, ${n}] with f16 and with f32 affine parameters, and without, with gradients`, async () => {
      const shapes = [{ shape: [3, 5, n], lo: 1, hi: 3 }, { shape: [n] }, { shape: [n] }];
      await compareF16(`layerNorm f16 affine ${n}`, shapes, ([x, w, b]) => T.layerNorm(x, [n], w, b));
      await compareF16(
        `layerNorm f32 affine ${n}`,
        [shapes[0], { ...shapes[1], dtype16: 'f32' }, { ...shapes[2], dtype16: 'f32' }],
        ([x, w, b]) => T.layerNorm(x, [n], w, b),
      );
      await compareF16(`layerNorm plain ${n}`, [shapes[0]], ([x]) => T.layerNorm(x, [n]));
    });
  }

  test('a long row (workgroup-per-row path) and two normalized dims', async () => {
    await compareF16('layerNorm long', [{ shape: [2, 768] }, { shape: [768] }, { shape: [768] }], ([x, w, b]) => T.layerNorm(x, [768], w, b));
    await compareF16('layerNorm 2 dims', [{ shape: [4, 7, 13] }, { shape: [7, 13] }], ([x, w]) => T.layerNorm(x, [7, 13], w));
  });

  test('an f32 input refuses f16 affine parameters', () => {
    expect(() => T.layerNorm(T.ones([2, 3]), [3], T.ones([3], 'f16'))).toThrow(/^layer_norm: .*f16/);
  });
});

describe('f16 attention (fused: f16 storage, f32 inside)', () => {
  for (const n of SIZES) {
    test(`attention over [2, 3, ${n}, 16] and a strided qkv view, with gradients`, async () => {
      await compareF16(`attention ${n}`, [{ shape: [2, 3, n, 16] }, { shape: [2, 3, n, 16] }, { shape: [2, 3, n, 16] }], ([q, k, v]) => T.attention(q, k, v));
      // ViT's layout: qkv [B, N, 3, H, d] permuted to [3, B, H, N, d] and sliced, read as views.
      await compareF16(`attention qkv view ${n}`, [{ shape: [1, n, 3, 2, 8] }], ([qkv]) => {
        const p = T.permute(qkv, [2, 0, 3, 1, 4]);
        const [q, k, v] = [0, 1, 2].map((i) => T.squeeze(T.narrow(p, 0, i, 1), 0));
        return T.attention(q, k, v, { scale: 0.3 });
      });
    });
  }

  test('q, k and v must share one dtype', () => {
    const a = T.ones([1, 1, 3, 4], 'f16');
    expect(() => T.attention(a, T.ones([1, 1, 3, 4]), a)).toThrow(/^attention: .*share one dtype/);
  });
});

describe('f16 conv2d (matmul core, f32 accumulation)', () => {
  const cases: [string, number[], number[], T.Conv2dOptions][] = [
    ['3x3 pad 1', [2, 3, 13, 7], [5, 3, 3, 3], { padding: 1 }],
    ['3x3 stride 2 dilation 2', [1, 7, 13, 13], [13, 7, 3, 3], { stride: 2, padding: 2, dilation: 2 }],
    ['patch 4x4/4 with a remainder', [2, 3, 37, 13], [7, 3, 4, 4], { stride: 4 }],
    ['1x1', [2, 13, 7, 7], [37, 13, 1, 1], {}],
    ['ViT-like patch 16/16', [1, 3, 48, 48], [37, 3, 16, 16], { stride: 16 }],
  ];
  for (const [name, xs, ws, opt] of cases) {
    test(`conv2d ${name}, with bias and gradients`, async () => {
      await compareF16(`conv2d ${name}`, [{ shape: xs, lo: -1, hi: 1 }, { shape: ws, lo: -0.5, hi: 0.5 }, { shape: [ws[0]] }], ([x, w, b]) => T.conv2d(x, w, b, opt), {
        atol: 2e-3,
      });
    });
  }

  test('conv2d refuses mixed f16/f32 operands', () => {
    expect(() => T.conv2d(T.ones([1, 2, 5, 5], 'f16'), T.ones([3, 2, 3, 3]))).toThrow(/^conv2d: operands must share one dtype/);
  });
});

describe('f16 refusals', () => {
  test('ops without f16 kernels raise a TensorError naming the op and f16, never a WGSL error', () => {
    const x = T.ones([2, 4, 5, 5], 'f16');
    const cases: [string, () => unknown][] = [
      ['cross_entropy', () => T.crossEntropy(T.ones([2, 4], 'f16'), T.zeros([2], 'i32'))],
      ['pad', () => T.pad(x, [1, 1])],
      ['gather', () => T.gather(x, 0, T.zeros([1, 4, 5, 5], 'i32'))],
    ];
    for (const [op, fn] of cases) {
      expect(fn, op).toThrow(T.TensorError);
      expect(fn, op).toThrow(new RegExp(`^${op}: .*f16`));
    }
  });

  test('matmul refuses mixed f16/f32 operands, naming both dtypes', () => {
    const a = T.ones([3, 4], 'f16');
    const b = T.ones([4, 2]);
    expect(() => T.matmul(a, b)).toThrow(/matmul: operands must share one dtype: a is f16, b is f32/);
    expect(() => T.linear(T.ones([3, 4]), T.ones([2, 4], 'f16'))).toThrow(/linear: operands must share one dtype/);
  });

  test('AdamW trains f16 parameters through f32 masters (test/amp.test.ts); SGD, which keeps none, refuses them', () => {
    const m = new nn.Linear(3, 2).to('f16');
    new T.AdamW(m.parameters()).dispose();
    expect(() => new T.SGD(m.parameters())).toThrow(/must be a contiguous f32 tensor \(got f16 \[2, 3\]\); SGD keeps no f32 master weights/);
  });

  test('the adapter check names the op and shader-f16', () => {
    expect(() => checkF16Support('tensor', false)).toThrow(/^tensor: f16 tensors need the adapter feature 'shader-f16'/);
    expect(() => checkF16Support('tensor', true)).not.toThrow();
  });

  test('kernels get `enable f16;` exactly when they mention f16', () => {
    expect(withF16Enable('var<storage> a: array<f32>;')).toBe('var<storage> a: array<f32>;');
    expect(withF16Enable('var<storage> a: array<f16>;')).toBe('enable f16;\nvar<storage> a: array<f16>;');
    expect(withF16Enable('enable f16;\nvar a: f16;')).toBe('enable f16;\nvar a: f16;');
    expect(withF16Enable('fn f16ish() {}')).toBe('fn f16ish() {}');
    expect(withF16Enable('// widened from f16\nvar a: f32;')).toBe('// widened from f16\nvar a: f32;');
  });

  test('an engine without shader-f16 refuses f16 tensors and models up front', async () => {
    T.shutdown();
    await T.init({ disableFeatures: ['shader-f16'] });
    try {
      expect(T.engine().supportsF16).toBe(false);
      expect(() => T.tensor([1, 2], [2], 'f16')).toThrow(/^tensor: f16 tensors need the adapter feature 'shader-f16'/);
      expect(() => T.cast(T.ones([2]), 'f16')).toThrow(/shader-f16/);
      expect(() => new nn.Linear(2, 2).to('f16')).toThrow(/^Linear\.to: .*shader-f16/);
      expect(await T.sum(T.ones([5])).item()).toBe(5); // f32 is untouched
    } finally {
      T.shutdown();
      await T.init();
    }
  });
});

/** Abramowitz-Stegun 7.1.26 is too coarse for 1e-3; this series/continued-fraction pair is exact enough. */
function erf(x: number): number {
  const s = Math.sign(x);
  const z = Math.abs(x);
  if (z < 3) {
    let sum = z;
    let term = z;
    for (let n = 1; n < 60; n++) {
      term *= (-z * z) / n;
      sum += term / (2 * n + 1);
    }
    return (s * 2 * sum) / Math.sqrt(Math.PI);
  }
  return s;
}
