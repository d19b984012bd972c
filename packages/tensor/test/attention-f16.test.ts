// Fused f16 attention: f16 q, k, v, output and gradients, f32 scores and softmax inside. Checked against an
// f64 reference of the half-rounded inputs in every kernel mode and adapter class, on strided qkv views, under a
// tiny binding limit, and for never allocating the N×N scores.
import { afterAll, beforeAll, describe, expect, test, type TestContext } from 'vitest';
import * as T from '../src/index.ts';
import type { Tensor } from '../src/index.ts';
import type { AttentionConfig } from '../src/kernels/attention.ts';
import { attentionConfig, CPU_SHARED_CONFIG, CPU_SUBGROUP_CONFIG, GPU_CONFIG, setAttentionConfig } from '../src/kernels/attention-run.ts';
import type { Dispatch } from '../src/runtime/engine.ts';
import { nd, seededUniform } from '../../../test/support/gradcheck.ts';
import { attentionRef } from './support/attention-ref.ts';
import { underTinyLimit } from './support/binding-limit.ts';

beforeAll(async () => {
  await T.init();
});

/** Every test needs halves in storage buffers; without them it is skipped with the reason shown. */
function needF16(ctx: TestContext): void {
  ctx.skip(!T.engine().supportsF16, "the adapter lacks 'shader-f16', so f16 attention cannot run here");
}

const h = (x: number) => T.halfToFloat(T.floatToHalf(x));

/** Uniform values already rounded to halves: the reference sees exactly what the kernels read. */
function halves(n: number, seed: number, lo = -1, hi = 1): number[] {
  const rng = seededUniform(seed);
  return Array.from({ length: n }, () => h(rng(lo, hi)));
}

const numel = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** |got − want| ≤ atol + rtol·|want| element by element, naming the first element that is not. */
function expectNear(got: ArrayLike<number>, want: ArrayLike<number>, tol: { rtol: number; atol: number }, what: string): void {
  expect(got.length, what).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]);
    if (!(err <= tol.atol + tol.rtol * Math.abs(want[i]))) throw new Error(`${what}: element ${i} is ${got[i]}, want ${want[i]} (error ${err})`);
  }
}

// The output is rounded once to a half (relative 2^-11); gradients also see O and dO rounded to halves (in D).
const FWD = { rtol: 2e-3, atol: 5e-4 };
const GRAD = { rtol: 1e-2, atol: 1e-3 };

/** (B, N, 3, H, d) index of element (b, h, n, c) of q (t = 0), k (1) or v (2). */
const qkvIndex = ([, H, N, d]: number[], t: number, b: number, hh: number, n: number, c: number) => (((b * N + n) * 3 + t) * H + hh) * d + c;

/**
 * attention on f16 leaves (separate q, k, v, or views of one qkv tensor as ViT makes them), backpropagating
 * Σ y·g, against the f64 reference; outputs and gradients must be f16.
 */
async function checkAgainstReference(shape: number[], seed: number, opts: { strided?: boolean; scale?: number } = {}): Promise<void> {
  const [B, H, N, d] = shape;
  const scale = opts.scale ?? 1 / Math.sqrt(d);
  const n = numel(shape);
  const label = `${shape.join('x')}${opts.strided ? ' qkv views' : ''}`;
  // Dense (B, H, N, d) values of q, k and v; the qkv leaf holds the same values in ViT's layout.
  const dense = [0, 1, 2].map((i) => halves(n, seed + i));
  const gVals = halves(n, seed + 7);
  const leaves = opts.strided ? [T.tensor(packQkv(shape, dense), [B, N, 3, H, d], 'f16')] : dense.map((x) => T.tensor(x, shape, 'f16'));
  leaves.forEach((t) => t.requiresGrad_());
  const [q, k, v] = opts.strided ? viewsOf(leaves[0]) : leaves;
  const y = T.attention(q, k, v, opts.scale === undefined ? {} : { scale });
  const g = T.tensor(gVals, shape, 'f16');
  y.backward(g);
  expect(y.dtype, label).toBe('f16');
  for (const t of leaves) expect(t.grad!.dtype, `${label} gradient`).toBe('f16');
  const ref = attentionRef(nd(dense[0], shape), nd(dense[1], shape), nd(dense[2], shape), gVals, scale);
  expectNear(await y.data(), ref.y, FWD, `${label} forward`);
  const grads = await Promise.all(leaves.map((t) => t.grad!.data()));
  const want = [ref.dq, ref.dk, ref.dv];
  const got = opts.strided ? [0, 1, 2].map((t) => unpackQkv(shape, grads[0], t)) : grads;
  ['dq', 'dk', 'dv'].forEach((name, i) => {
    const top = Math.max(1e-3, ...want[i].map(Math.abs));
    expectNear(got[i], want[i], { rtol: GRAD.rtol, atol: GRAD.atol * top }, `${label} ${name}`);
  });
  if (opts.strided) [q, k, v].forEach((t) => t.dispose());
  [y, g, ...leaves.flatMap((t) => [t.grad!, t])].forEach((t) => t.dispose());
}

function packQkv(shape: number[], dense: number[][]): number[] {
  const [B, H, N, d] = shape;
  const out = new Array<number>(3 * numel(shape));
  for (let t = 0; t < 3; t++) {
    for (let b = 0; b < B; b++) {
      for (let hh = 0; hh < H; hh++) {
        for (let i = 0; i < N; i++) for (let c = 0; c < d; c++) out[qkvIndex(shape, t, b, hh, i, c)] = dense[t][((b * H + hh) * N + i) * d + c];
      }
    }
  }
  return out;
}

function unpackQkv(shape: number[], qkv: ArrayLike<number>, t: number): Float64Array {
  const [B, H, N, d] = shape;
  const out = new Float64Array(numel(shape));
  for (let b = 0; b < B; b++) {
    for (let hh = 0; hh < H; hh++) {
      for (let i = 0; i < N; i++) for (let c = 0; c < d; c++) out[((b * H + hh) * N + i) * d + c] = qkv[qkvIndex(shape, t, b, hh, i, c)];
    }
  }
  return out;
}

/** q, k, v as permuted views of one (B, N, 3, H, d) tensor, the way ViT's qkv projection produces them. */
function viewsOf(qkv: Tensor): Tensor[] {
  const [, N, , H, d] = qkv.shape;
  const p = T.permute(qkv, [2, 0, 3, 1, 4]);
  const views = [0, 1, 2].map((i) => T.scope(() => T.squeeze(T.narrow(p, 0, i, 1), 0)));
  p.dispose();
  // Views, not copies: the kernels must read the permuted strides in place.
  for (const t of views) expect(t.strides).toEqual([N * 3 * H * d, d, 3 * H * d, 1]);
  return views;
}

test('the f64 reference gradients match its own central differences', () => {
  const shape = [1, 2, 5, 3];
  const rng = seededUniform(4);
  const xs = [0, 1, 2].map(() => Float64Array.from({ length: numel(shape) }, () => rng()));
  const g = Float64Array.from({ length: numel(shape) }, () => rng());
  const refOf = (ys: Float64Array[]) => attentionRef(nd(ys[0], shape), nd(ys[1], shape), nd(ys[2], shape), g, 0.7);
  const loss = (ys: Float64Array[]) => refOf(ys).y.reduce((s, y, i) => s + y * g[i], 0);
  const ref = refOf(xs);
  [ref.dq, ref.dk, ref.dv].forEach((grad, t) => {
    for (let i = 0; i < grad.length; i++) {
      const up = xs.map((x) => x.slice());
      const down = xs.map((x) => x.slice());
      up[t][i] += 1e-6;
      down[t][i] -= 1e-6;
      expect(Math.abs((loss(up) - loss(down)) / 2e-6 - grad[i])).toBeLessThan(1e-7);
    }
  });
});

/**
 * Each mode compiles three kernels per head dim and dtype (seconds each on lavapipe); the GPU blocks (64
 * invocations x 16 rows between barriers) take llvmpipe minutes at d 64, so that class runs d 12 and 16.
 */
/** The first shape of a mode compiles its kernels: on a loaded 2-core llvmpipe that alone can take minutes. */
const COMPILE_TIMEOUT = 600_000;

const RUNS: { name: string; cfg: AttentionConfig | null; gpu: boolean; want: AttentionConfig; shapes: number[][] }[] = [
  { name: 'subgroup broadcasts', cfg: CPU_SUBGROUP_CONFIG, gpu: false, want: CPU_SUBGROUP_CONFIG, shapes: [[2, 3, 37, 64], [2, 3, 197, 12], [2, 3, 197, 64]] },
  { name: 'workgroup memory, 8 lanes', cfg: CPU_SHARED_CONFIG, gpu: false, want: CPU_SHARED_CONFIG, shapes: [[2, 3, 37, 64], [2, 3, 197, 12]] },
  { name: 'forced GPU class (workgroup memory, 64 x 16)', cfg: null, gpu: true, want: GPU_CONFIG, shapes: [[2, 3, 37, 12], [2, 3, 197, 12], [1, 2, 70, 16]] },
];

for (const run of RUNS) {
  describe(`f16 attention against the f64 reference, ${run.name}`, () => {
    beforeAll(() => {
      setAttentionConfig(run.cfg);
      if (run.gpu) T.engine().setAdapterClass('gpu');
    });
    afterAll(() => {
      setAttentionConfig(null);
      T.engine().setAdapterClass(null);
    });

    test('uses the requested mode', (ctx) => {
      needF16(ctx);
      const want = run.want.mode === 'subgroup' && !T.engine().hasFeature('subgroups') ? { ...run.want, mode: 'shared' } : run.want;
      expect(attentionConfig()).toEqual(want);
    });

    for (const shape of run.shapes) {
      test(`B, H, N, d = ${shape.join(', ')}, forward and backward`, { timeout: COMPILE_TIMEOUT }, async (ctx) => {
        needF16(ctx);
        await checkAgainstReference(shape, shape[2] * 7 + shape[3]);
      });
    }

    test('q, k, v as permuted views of one qkv tensor, gradient into qkv', { timeout: COMPILE_TIMEOUT }, async (ctx) => {
      needF16(ctx);
      await checkAgainstReference([2, 3, 37, 12], 5, { strided: true });
    });

    test('a head dim that is not a multiple of 4 (scalar half loads), explicit scale', { timeout: COMPILE_TIMEOUT }, async (ctx) => {
      needF16(ctx);
      await checkAgainstReference([1, 2, 19, 6], 8, { scale: 0.9 });
    });
  });
}

describe('f16 attention under a tiny binding limit', () => {
  test('dense q, k, v and views of one qkv tensor: sliced by batch and head, equal to the unsliced result', async (ctx) => {
    needF16(ctx);
    const f16 = (shape: readonly number[], seed: number) => T.tensor(halves(numel([...shape]), seed), [...shape], 'f16');
    const forwardBackward = (leaves: Tensor[], views: boolean, gSeed: number) => {
      const fresh = leaves.map((t) => T.detach(t).requiresGrad_());
      const [q, k, v] = views ? viewsOf(fresh[0]) : fresh;
      const y = T.attention(q, k, v);
      const g = f16(y.shape, gSeed);
      y.backward(g);
      g.dispose();
      if (views) [q, k, v].forEach((t) => t.dispose());
      const out = [y, ...fresh.map((t) => t.grad!)];
      fresh.forEach((t) => t.dispose());
      return out;
    };
    // 5.3 KB per dense operand; the views of a (2, 13, 3, 3, 12) qkv span 2.6 KB per head, 5.6 KB in all.
    const dense = [0, 1, 2].map((i) => f16([2, 3, 37, 12], 30 + i));
    const qkv = f16([2, 13, 3, 3, 12], 40);
    const { full, sliced } = await underTinyLimit(() => [...forwardBackward(dense, false, 50), ...forwardBackward([qkv], true, 51)]);
    // Slicing by batch and head changes no sum's order: equal to the bit.
    ['y', 'dq', 'dk', 'dv', 'qkv y', 'dqkv'].forEach((what, i) => expect(sliced[i], what).toEqual(full[i]));
    [...dense, qkv].forEach((t) => t.dispose());
  });
});

describe('f16 attention slicing budgets the f32 log-sum-exp, not N x N scores', () => {
  test('N = 50 under a 4 KiB limit: the f16 scores (5 KB) would not bind, q, k, v (800 B) and the lse do: no slicing', async (ctx) => {
    needF16(ctx);
    const shape = [1, 1, 50, 8];
    const [q, k, v] = [0, 1, 2].map((i) => T.tensor(halves(numel(shape), 80 + i), shape, 'f16'));
    const e = T.engine();
    const run = async () => {
      const d0 = e.stats().dispatches;
      const y = T.attention(q, k, v);
      const out = await y.data();
      y.dispose();
      return { out, dispatches: e.stats().dispatches - d0 };
    };
    const full = await run();
    e.setBindingLimit(4096);
    try {
      // One (batch, head) cannot be cut: slicing for the scores would have thrown here.
      const small = await run();
      expect(small.dispatches).toBe(full.dispatches);
      expect(small.out).toEqual(full.out);
    } finally {
      e.setBindingLimit(null);
    }
    [q, k, v].forEach((t) => t.dispose());
  });
});

describe('f16 attention memory', () => {
  test('forward and backward allocate no N x N scores and launch only the three fused kernels', async (ctx) => {
    needF16(ctx);
    const [B, H, N, d] = [1, 4, 1024, 16];
    const scoresBytes = B * H * N * N * 2;
    const [q, k, v] = [0, 1, 2].map((i) => T.tensor(halves(B * H * N * d, 60 + i), [B, H, N, d], 'f16').requiresGrad_());
    const g = T.tensor(halves(B * H * N * d, 63), [B, H, N, d], 'f16');
    const e = T.engine();
    const labels: string[] = [];
    const realDispatch = e.dispatch.bind(e);
    e.dispatch = (dd: Dispatch) => {
      labels.push(dd.label);
      realDispatch(dd);
    };
    const before = T.memoryStats();
    // The high-water mark must be below what this test measures, or the test could not fail.
    expect(before.peakLiveBytes - before.liveBytes).toBeLessThan(scoresBytes / 4);
    try {
      const y = T.attention(q, k, v);
      y.backward(g);
      const grads = await Promise.all([q, k, v].map((t) => t.grad!.data()));
      const grown = T.memoryStats().peakLiveBytes - before.liveBytes;
      // Output, three gradients (128 KiB each) and two f32 row statistics; the f16 scores alone are 8 MiB.
      expect(grown).toBeLessThan(scoresBytes / 4);
      for (const gr of grads) expect(gr.every(Number.isFinite)).toBe(true);
      y.dispose();
    } finally {
      e.dispatch = realDispatch;
    }
    expect(labels.filter((l) => l.startsWith('attention'))).toEqual(['attention', 'attention_backward_dq', 'attention_backward_dkv']);
    expect(labels.filter((l) => /matmul|softmax/.test(l))).toEqual([]);
    [q, k, v].forEach((t) => [t.grad!, t].forEach((x) => x.dispose()));
    g.dispose();
  });
});

describe('f16 attention under createGraph (the composed backward, cast to f32 inside)', () => {
  test('gradients are differentiable f16 tensors that match the f64 reference', { timeout: COMPILE_TIMEOUT }, async (ctx) => {
    needF16(ctx);
    const shape = [1, 2, 13, 8];
    const n = numel(shape);
    const vals = [0, 1, 2].map((i) => halves(n, 70 + i));
    const gVals = halves(n, 73);
    const [q, k, v] = vals.map((x) => T.tensor(x, shape, 'f16').requiresGrad_());
    const g = T.tensor(gVals, shape, 'f16');
    const y = T.attention(q, k, v);
    y.backward(g, { createGraph: true });
    const ref = attentionRef(nd(vals[0], shape), nd(vals[1], shape), nd(vals[2], shape), gVals, 1 / Math.sqrt(8));
    for (const [i, t] of [q, k, v].entries()) {
      expect(t.grad!.dtype).toBe('f16');
      // Only the composed rule records a graph for the gradient; the fused kernels do not.
      expect(t.grad!.requiresGrad).toBe(true);
      const want = [ref.dq, ref.dk, ref.dv][i];
      const top = Math.max(1e-3, ...want.map(Math.abs));
      expectNear(await t.grad!.data(), want, { rtol: GRAD.rtol, atol: GRAD.atol * top }, `createGraph grad ${i}`);
    }
    [y, g, ...[q, k, v].flatMap((t) => [t.grad!, t])].forEach((t) => t.dispose());
  });
});

describe('f16 attention errors', () => {
  test('mixed dtypes stay an error', (ctx) => {
    needF16(ctx);
    const a = T.ones([1, 1, 3, 4], 'f16');
    const b = T.ones([1, 1, 3, 4]);
    expect(() => T.attention(a, a, b)).toThrow(/^attention: q, k and v must share one dtype: q is f16, v is f32/);
    [a, b].forEach((t) => t.dispose());
  });
});
