import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import * as T from '../src/index.ts';
import type { Dispatch } from '../src/runtime/engine.ts';
import { type TiledGemmConfig, tiledConfigError, tiledSharedBytes, tiledThreads } from '../src/kernels/gemm-tiled.ts';
import { launchMatmul, planMatmul, subgroupsUsable } from '../src/kernels/matmul-run.ts';
import { candidatesFor, clearMatmulTuning, exportMatmulTuning, heuristicConfig, importMatmulTuning, TILED_CANDIDATES } from '../src/kernels/matmul-tune.ts';
import { checkCase, expectClose, loadGroup } from '../../../test/support/fixtures.ts';
import { gradcheck, type ND, randomND, seededUniform } from '../../../test/support/gradcheck.ts';
import { underBothClasses } from './support/adapter-class.ts';

/**
 * The workgroup-tiled GEMM core of the GPU adapter class, forced on whatever adapter runs the tests (lavapipe
 * here): products at shapes that are not multiples of any tile, every candidate tile, transposed and broadcast
 * operands, bias per column and per row, the implicit-GEMM conv (forward, dx, dW), f16, the grid split, and
 * proof that the tiled kernel is what ran.
 */

const keys: string[] = [];
let realDispatch: (d: Dispatch) => void;

beforeAll(async () => {
  await T.init();
  const e = T.engine();
  realDispatch = e.dispatch.bind(e);
  e.dispatch = (d: Dispatch) => {
    keys.push(d.key ?? '');
    realDispatch(d);
  };
  e.setAdapterClass('gpu');
});

afterAll(() => {
  const e = T.engine();
  e.dispatch = realDispatch;
  e.setAdapterClass(null);
});

afterEach(() => {
  clearMatmulTuning();
  T.engine().setAdapterClass('gpu');
});

const rng = seededUniform(77);
const tile = (bm: number, bn: number, bk: number, tm: number, tn: number): TiledGemmConfig => ({ kind: 'tiled', bm, bn, bk, tm, tn });

/** The kernel keys of the matmul dispatches `run` encodes. */
function gemmKeys(run: () => void): string[] {
  keys.length = 0;
  run();
  return keys.filter((k) => k.startsWith('gemmTiled|') || k.startsWith('matmul|'));
}

/** f64 op(A)·op(B) per batch, with accessors for the (possibly broadcast) operands. */
function reference(batch: number, M: number, N: number, K: number, a: (b: number, i: number, k: number) => number, b: (bt: number, k: number, j: number) => number): Float64Array {
  const out = new Float64Array(batch * M * N);
  for (let t = 0; t < batch; t++)
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += a(t, i, k) * b(t, k, j);
        out[(t * M + i) * N + j] = s;
      }
  return out;
}

const toTensor = (x: ND) => T.tensor(Float32Array.from(x.data), x.shape);

/** op(a)·op(b) for 2-D operands stored as given (transposed storage when tA / tB), checked against f64. */
async function check2d(M: number, K: number, N: number, tA: boolean, tB: boolean, label: string): Promise<void> {
  const a = randomND(tA ? [K, M] : [M, K], rng);
  const b = randomND(tB ? [N, K] : [K, N], rng);
  const want = reference(
    1,
    M,
    N,
    K,
    (_, i, k) => a.data[tA ? k * M + i : i * K + k],
    (_, k, j) => b.data[tB ? j * K + k : k * N + j],
  );
  const [ta, tb] = [toTensor(a), toTensor(b)];
  const c = T.matmul(ta, tb, { transposeA: tA, transposeB: tB });
  expect(c.shape).toEqual([M, N]);
  expectClose(await c.data(), want, { rtol: 1e-4, atol: 1e-5 }, label);
  for (const t of [ta, tb, c]) t.dispose();
}

describe('the GPU class runs the workgroup-tiled kernel', () => {
  test('matmul, linear and conv2d dispatch gemmTiled kernels under the gpu class and register kernels under cpu', () => {
    const a = T.zeros([67, 37]);
    const b = T.zeros([37, 131]);
    const x = T.zeros([1, 3, 9, 7]);
    const w = T.zeros([4, 3, 3, 3]);
    const run = () => {
      T.matmul(a, b).dispose();
      T.linear(a, T.zeros([5, 37]), T.zeros([5])).dispose();
      T.conv2d(x, w, null, { padding: 1 }).dispose();
    };
    const gpu = gemmKeys(run);
    expect(gpu.length).toBe(3);
    for (const k of gpu) expect(k).toMatch(/^gemmTiled\|/);
    expect(gpu[2]).toMatch(/\|gather$/);
    T.engine().setAdapterClass('cpu');
    const cpu = gemmKeys(run);
    expect(cpu.length).toBe(3);
    for (const k of cpu) expect(k).toMatch(/^matmul\|/);
    for (const t of [a, b, x, w]) t.dispose();
  });

  test('subgroup row sharing is CPU-class only, and tuning offers workgroup tiles under the gpu class', () => {
    const p = planMatmul(T.zeros([67, 37]), T.zeros([37, 131]), false, false, [], false);
    expect(subgroupsUsable()).toBe(false);
    expect(p.variant.subgroup).toBe(false);
    const cands = candidatesFor(p);
    expect(cands.length).toBeGreaterThan(3);
    for (const c of cands) expect(c).toMatchObject({ kind: 'tiled' });
    expect(heuristicConfig(p)).toMatchObject({ kind: 'tiled' });
    T.engine().setAdapterClass('cpu');
    for (const c of candidatesFor(p)) expect('kind' in c).toBe(false);
  });
});

describe('tiled GEMM forward against f64 at shapes that are not multiples of a tile', () => {
  const shapes: [number, number, number][] = [
    [67, 37, 131],
    [1, 37, 131],
    [67, 37, 1],
    [67, 1, 131],
    [1, 1, 1],
    [67, 36, 131], // K % 4 == 0: vec4 reads of A (and of Bᵀ)
  ];
  for (const [M, K, N] of shapes) {
    test(`${M}x${K} · ${K}x${N}, all four transpose combinations`, async () => {
      for (const tA of [false, true]) for (const tB of [false, true]) await check2d(M, K, N, tA, tB, `${M}x${K}x${N} tA=${tA} tB=${tB}`);
    });
  }

  test('a larger product 300x150 · 150x200 (several K steps and blocks)', async () => {
    await check2d(300, 150, 200, false, false, '300x150x200');
    await check2d(300, 150, 200, false, true, '300x150x200 NT');
  });

  test('every candidate tile gives the same product, for scalar and vec4 loads of both operands', async () => {
    const fitting = TILED_CANDIDATES.filter((c) => tiledConfigError(c, T.engine().limits) === null);
    expect(fitting.length).toBe(TILED_CANDIDATES.length);
    for (const [K, tB] of [
      [37, false],
      [36, true],
      [36, false],
    ] as const) {
      const [M, N] = [70, 45];
      const a = randomND([M, K], rng);
      const b = randomND(tB ? [N, K] : [K, N], rng);
      const want = reference(1, M, N, K, (_, i, k) => a.data[i * K + k], (_, k, j) => b.data[tB ? j * K + k : k * N + j]);
      const [ta, tb] = [toTensor(a), toTensor(b)];
      const p = planMatmul(ta, tb, false, tB, [], false);
      expect(p.variant.aVec4).toBe(K % 4 === 0);
      expect(p.variant.bVec4).toBe(tB);
      for (const cfg of fitting) {
        const out = T.Tensor.empty([M, N], 'f32', 'test');
        launchMatmul('test', p, cfg, ta, tb, out, null);
        expectClose(await out.data(), want, { rtol: 1e-4, atol: 1e-5 }, `K=${K} tB=${tB} ${JSON.stringify(cfg)}`);
        out.dispose();
      }
      ta.dispose();
      tb.dispose();
    }
  }, 600_000);

  test('batched with broadcast batch dims, and a transposed batched view', async () => {
    const [M, K, N] = [19, 37, 33];
    const a = randomND([2, 1, M, K], rng);
    const b = randomND([3, K, N], rng);
    const want = reference(
      6,
      M,
      N,
      K,
      (t, i, k) => a.data[(Math.floor(t / 3) * M + i) * K + k],
      (t, k, j) => b.data[((t % 3) * K + k) * N + j],
    );
    const [ta, tb] = [toTensor(a), toTensor(b)];
    const c = T.matmul(ta, tb);
    expect(c.shape).toEqual([2, 3, M, N]);
    expectClose(await c.data(), want, { rtol: 1e-4, atol: 1e-5 }, 'broadcast batch');
    // Aᵀ stored as [3, K, M], used through a transposed view (A's m stride is 1: loads run along m).
    const at = randomND([3, K, M], rng);
    const tat = toTensor(at);
    const view = T.transpose(tat, 1, 2);
    const d = T.matmul(view, tb);
    const want2 = reference(3, M, N, K, (t, i, k) => at.data[(t * K + k) * M + i], (t, k, j) => b.data[(t * K + k) * N + j]);
    expectClose(await d.data(), want2, { rtol: 1e-4, atol: 1e-5 }, 'transposed batched view');
    for (const t of [ta, tb, c, tat, view, d]) t.dispose();
  });

  test('grids past the per-dimension workgroup limit split along rows and along the batch', async () => {
    const max = T.engine().maxWorkgroupsPerDim;
    // Tiny blocks (4 rows) so that the row grid passes the limit with a small tensor.
    const small = tile(4, 4, 4, 1, 1);
    const M = 4 * max + 13;
    const a = randomND([M, 4], rng);
    const b = randomND([4, 3], rng);
    const [ta, tb] = [toTensor(a), toTensor(b)];
    const p = planMatmul(ta, tb, false, false, [], false);
    const out = T.Tensor.empty([M, 3], 'f32', 'test');
    keys.length = 0;
    launchMatmul('test', p, small, ta, tb, out, null);
    expect(keys.length).toBe(2);
    expectClose(await out.data(), reference(1, M, 3, 4, (_, i, k) => a.data[i * 4 + k], (_, k, j) => b.data[k * 3 + j]), { rtol: 1e-4, atol: 1e-5 }, 'row split');
    for (const t of [ta, tb, out]) t.dispose();
    // max + 3 batches of 1x2 · 2x1.
    const nb = max + 3;
    const x = randomND([nb, 1, 2], rng);
    const y = randomND([nb, 2, 1], rng);
    const [tx, ty] = [toTensor(x), toTensor(y)];
    keys.length = 0;
    const z = T.matmul(tx, ty);
    expect(keys.length).toBe(2);
    expectClose(await z.data(), reference(nb, 1, 1, 2, (t, _, k) => x.data[t * 2 + k], (t, k) => y.data[t * 2 + k]), { rtol: 1e-4, atol: 1e-5 }, 'batch split');
    for (const t of [tx, ty, z]) t.dispose();
  });
});

describe('tiled GEMM gradients and bias (f64 finite differences)', () => {
  test('linear with bias over a 3-D input (bias per column)', async () => {
    await gradcheck({
      label: 'linear 2x13x7 by (37x7)ᵀ + bias',
      inputs: [randomND([2, 13, 7], rng), randomND([37, 7], rng), randomND([37], rng)],
      gpu: ([x, w, b]) => T.linear(x, w, b),
      cpu: ([x, w, b]) => {
        const out = reference(1, 26, 37, 7, (_, i, k) => x.data[i * 7 + k], (_, k, j) => w.data[j * 7 + k]);
        for (let i = 0; i < out.length; i++) out[i] += b.data[i % 37];
        return { data: out, shape: [2, 13, 37] };
      },
    });
  });

  test('matmul with both operands transposed, gradients through the tiled kernel', async () => {
    const [M, K, N] = [37, 13, 7];
    await gradcheck({
      label: 'matmul aᵀ·bᵀ',
      inputs: [randomND([K, M], rng), randomND([N, K], rng)],
      gpu: ([a, b]) => T.matmul(a, b, { transposeA: true, transposeB: true }),
      cpu: ([a, b]) => ({ data: reference(1, M, N, K, (_, i, k) => a.data[k * M + i], (_, k, j) => b.data[j * K + k]), shape: [M, N] }),
    });
  });
});

describe('implicit-GEMM conv2d on the tiled kernel', () => {
  /** conv2d forward and its three gradients (Σ y·g), as flat arrays. */
  function convAll(xs: ND, ws: ND, bs: ND, gs: ND, opts: T.Conv2dOptions): () => T.Tensor[] {
    return () => {
      const [x, w, b] = [xs, ws, bs].map((v) => toTensor(v).requiresGrad_());
      const y = T.conv2d(x, w, b, opts);
      T.scope(() => T.sum(T.mul(y, toTensor(gs))).backward());
      const out = [y, x.grad!, w.grad!, b.grad!];
      for (const t of [x, w, b]) {
        t.grad = null;
        t.dispose();
      }
      return out;
    };
  }
  const cases: { label: string; x: number[]; w: number[]; opts: T.Conv2dOptions }[] = [
    { label: '3x3 stride 2 pad 1 (dx through the divided gather)', x: [2, 5, 13, 11], w: [7, 5, 3, 3], opts: { stride: 2, padding: 1 } },
    { label: '3x2 kernel, stride (1,2), pad (2,1), dilation (2,3)', x: [1, 3, 17, 9], w: [6, 3, 3, 2], opts: { stride: [1, 2], padding: [2, 1], dilation: [2, 3] } },
    { label: '3x3 dilation 2 pad 2, 37 channels out', x: [2, 4, 10, 9], w: [37, 4, 3, 3], opts: { padding: 2, dilation: 2 } },
  ];
  for (const c of cases) {
    test(`${c.label}: forward, dx, dW and db agree with the CPU-class kernels`, async () => {
      const r = seededUniform(c.x.concat(c.w).reduce((a, b) => a * 31 + b, 5));
      const xs = randomND(c.x, r);
      const ws = randomND(c.w, r);
      const bs = randomND([c.w[0]], r);
      const probe = T.conv2d(T.zeros(c.x), T.zeros(c.w), null, c.opts);
      const gs = randomND([...probe.shape], r);
      probe.dispose();
      const { cpu, gpu } = await underBothClasses(convAll(xs, ws, bs, gs, c.opts));
      ['y', 'dx', 'dW', 'db'].forEach((name, i) => expectClose(gpu[i], cpu[i], { rtol: 1e-4, atol: 1e-4 }, `${c.label} ${name}`));
    });
  }

  test('the conv forward, dx and dW GEMMs all run tiled, with the gather hook', () => {
    const x = T.zeros([1, 3, 9, 7]).requiresGrad_();
    const w = T.zeros([4, 3, 3, 3]).requiresGrad_();
    const ks = gemmKeys(() => {
      const y = T.conv2d(x, w, null, { stride: 2, padding: 1 });
      T.sum(y).backward();
      y.dispose();
    });
    expect(ks.length).toBe(3);
    expect(ks.filter((k) => /^gemmTiled\|.*\|gather$/.test(k)).length).toBe(2); // forward and dW
    expect(ks.filter((k) => /^gemmTiled\|.*\|gather\/div$/.test(k)).length).toBe(1); // dx with stride 2
    for (const t of [x.grad!, w.grad!, x, w]) t.dispose();
  });
});

describe('PyTorch fixtures under the gpu class', () => {
  const mm = loadGroup('ops/matmul.json');
  for (const c of mm.cases) {
    test(`matmul: ${c.name}`, async () => {
      await checkCase(c, (inp, p) => {
        if (p.op === 'linear') return { out: T.linear(inp.x, inp.weight, inp.bias) };
        return { out: T.matmul(inp.a, inp.b, { transposeA: p.transpose_a === true, transposeB: p.transpose_b === true }) };
      });
    });
  }
  const conv = loadGroup('ops/conv2d.json');
  for (const c of conv.cases) {
    test(`conv2d: ${c.name}`, async () => {
      await checkCase(c, (inp, p) => ({
        out: T.conv2d(inp.x, inp.weight, inp.bias ?? null, { stride: p.stride as number, padding: p.padding as number, dilation: p.dilation as number }),
      }));
    });
  }
});

describe('f16 storage with f32 accumulation on the tiled kernel', () => {
  test('f16 products (plain, Bᵀ with vec4 loads, bias) within one f16 rounding of f64', async (ctx) => {
    if (!T.engine().supportsF16) ctx.skip();
    const [M, K, N] = [67, 36, 45];
    const a = randomND([M, K], rng);
    const b = randomND([N, K], rng);
    const bias = randomND([N], rng);
    const half = (x: ND) => T.cast(toTensor(x), 'f16');
    // Round the inputs to f16 first, so the reference sees what the kernel sees.
    const [ha, hb, hbias] = [half(a), half(b), half(bias)];
    const [ra, rb, rbias] = await Promise.all([ha, hb, hbias].map(async (t) => Float64Array.from(await T.cast(t, 'f32').data())));
    const want = reference(1, M, N, K, (_, i, k) => ra[i * K + k], (_, k, j) => rb[j * K + k]);
    const y = T.linear(ha, hb, hbias);
    expect(y.dtype).toBe('f16');
    const got = await y.data();
    const wantB = want.map((v, i) => v + rbias[i % N]);
    expectClose(got, wantB, { rtol: 2 ** -10, atol: 1e-3 }, 'f16 linear');
    const hbt = T.contiguous(T.transpose(hb));
    const z = T.matmul(ha, hbt);
    expectClose(await z.data(), want, { rtol: 2 ** -10, atol: 1e-3 }, 'f16 matmul');
    for (const t of [ha, hb, hbias, y, hbt, z]) t.dispose();
  });
});

describe('tuning under the gpu class', () => {
  test('autotuneMatmul times the workgroup tiles and later products use the winner', async () => {
    const a = randomND([53, 24], rng);
    const b = randomND([24, 70], rng);
    const [ta, tb] = [toTensor(a), toTensor(b)];
    const r = await T.autotuneMatmul(ta, tb);
    expect(r.config).toMatchObject({ kind: 'tiled' });
    expect(r.timings.length).toBeGreaterThanOrEqual(candidatesFor(planMatmul(ta, tb, false, false, [], false)).length);
    const ks = gemmKeys(() => T.matmul(ta, tb).dispose());
    const c = r.config as TiledGemmConfig;
    expect(ks[0]).toContain(`gemmTiled|${c.bm},${c.bn},${c.bk},${c.tm},${c.tn}|`);
    const out = T.matmul(ta, tb);
    expectClose(await out.data(), reference(1, 53, 70, 24, (_, i, k) => a.data[i * 24 + k], (_, k, j) => b.data[k * 70 + j]), { rtol: 1e-4, atol: 1e-5 }, 'tuned');
    for (const t of [ta, tb, out]) t.dispose();
  });

  test('importMatmulTuning takes workgroup tiles that fit this device and skips the rest', () => {
    const lim = T.engine().limits;
    const tooMuchMemory = tile(64, 64, 4 * Math.ceil(lim.maxComputeWorkgroupStorageSize / (4 * 4 * 130) + 1), 4, 4);
    expect(tiledSharedBytes(tooMuchMemory)).toBeGreaterThan(lim.maxComputeWorkgroupStorageSize);
    const tooManyThreads = tile(64, 64, 8, 1, 1);
    expect(tiledThreads(tooManyThreads)).toBeGreaterThan(lim.maxComputeInvocationsPerWorkgroup);
    const n = importMatmulTuning({
      good: tile(64, 64, 16, 4, 4),
      register: { wg: 32, tm: 4, tn: 4 },
      memory: tooMuchMemory,
      threads: tooManyThreads,
      ragged: tile(64, 64, 16, 5, 4),
      junk: 'x',
    });
    expect(n).toBe(1);
    expect(Object.keys(exportMatmulTuning())).toEqual(['good']);
    // The CPU class takes register tiles only.
    T.engine().setAdapterClass('cpu');
    expect(importMatmulTuning({ a: tile(64, 64, 16, 4, 4), b: { wg: 32, tm: 4, tn: 4 } })).toBe(1);
    expect(exportMatmulTuning()).toEqual({ b: { wg: 32, tm: 4, tn: 4 } });
  });

  test('a config of the other class is refused at launch rather than run on the wrong kernel', () => {
    const ta = T.zeros([5, 4]);
    const tb = T.zeros([4, 3]);
    const p = planMatmul(ta, tb, false, false, [], false);
    const out = T.Tensor.empty([5, 3], 'f32', 'test');
    expect(() => launchMatmul('test', p, { wg: 32, tm: 4, tn: 4 }, ta, tb, out, null)).toThrow(/register tiles .* GPU-class/);
    for (const t of [ta, tb, out]) t.dispose();
  });
});
