import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import * as T from '../src/index.ts';
import type { Tensor } from '../src/index.ts';
import type { AttentionConfig } from '../src/kernels/attention.ts';
import { attentionConfig, CPU_SHARED_CONFIG, GPU_CONFIG, setAttentionConfig } from '../src/kernels/attention-run.ts';
import { expectClose } from '../../../test/support/fixtures.ts';
import { gradcheck, type ND, randomND, seededUniform } from '../../../test/support/gradcheck.ts';

beforeAll(async () => {
  await T.init();
});

const FWD = { rtol: 1e-4, atol: 1e-5 };
const GRAD = { rtol: 1e-3, atol: 1e-4 };

/** Both kernel modes: subgroup broadcasts (where the device has them) and workgroup-memory tiles. */
const MODES: { name: string; cfg: AttentionConfig | null }[] = [
  { name: 'default (subgroup on lavapipe)', cfg: null },
  { name: 'workgroup memory, 8 lanes', cfg: CPU_SHARED_CONFIG },
  { name: 'workgroup memory, GPU blocks (64 x 16)', cfg: { mode: 'shared', wg: 64, bc: 16 } },
];

function useMode(cfg: AttentionConfig | null): void {
  beforeAll(() => setAttentionConfig(cfg));
  afterAll(() => setAttentionConfig(null));
}

const rand = (shape: number[], seed: number, lo = -1, hi = 1) => {
  const x = randomND(shape, seededUniform(seed), lo, hi);
  return T.tensor(Float32Array.from(x.data), shape);
};

/** The plain composition a user would write: matmul, softmax, matmul. */
function composed(q: Tensor, k: Tensor, v: Tensor, scale: number): Tensor {
  return T.scope(() => T.matmul(T.softmax(T.mul(T.matmul(q, k, { transposeB: true }), scale), -1), v));
}

/** Output and input gradients of sum(f(q, k, v) · w) for fresh leaves made by `make`. */
async function run(make: () => Tensor[], f: (q: Tensor, k: Tensor, v: Tensor) => Tensor, w: Tensor) {
  const leaves = make().map((t) => t.requiresGrad_());
  const [q, k, v] = leaves.length === 1 ? viewsOf(leaves[0]) : leaves;
  const y = f(q, k, v);
  T.scope(() => T.sum(T.mul(y, w)).backward());
  const out = { y: await y.data(), grads: await Promise.all(leaves.map((t) => t.grad!.data())) };
  y.dispose();
  if (leaves.length === 1) [q, k, v].forEach((t) => t.dispose());
  for (const t of leaves) {
    t.grad!.dispose();
    t.dispose();
  }
  return out;
}

/** q, k, v as permuted views of one (B, N, 3, H, d) tensor, the way ViT's qkv projection produces them. */
function viewsOf(qkv: Tensor): Tensor[] {
  const [B, N, , H, d] = qkv.shape;
  const p = T.permute(qkv, [2, 0, 3, 1, 4]);
  const views = [0, 1, 2].map((i) => T.scope(() => T.squeeze(T.narrow(p, 0, i, 1), 0)));
  p.dispose();
  // Views, not copies: the kernel must read the permuted strides.
  for (const t of views) expect(t.strides).toEqual([N * 3 * H * d, d, 3 * H * d, 1]);
  expect(views[0].shape).toEqual([B, H, N, d]);
  return views;
}

async function compareWithComposed(shape: number[], seed: number, opts: { strided?: boolean; scale?: number; qkMag?: number } = {}) {
  const [B, H, N, d] = shape;
  const scale = opts.scale ?? 1 / Math.sqrt(d);
  // Large q and k make large scores; v stays in [-1, 1] so absolute tolerances keep their meaning.
  const mag = opts.qkMag ?? 1;
  const make = opts.strided
    ? () => [rand([B, N, 3, H, d], seed)]
    : () => [0, 1, 2].map((i) => (i < 2 ? rand(shape, seed + i, -mag, mag) : rand(shape, seed + i)));
  const w = rand(shape, seed + 9);
  const ours = await run(make, (q, k, v) => T.attention(q, k, v, opts.scale === undefined ? {} : { scale }), w);
  const ref = await run(make, (q, k, v) => composed(q, k, v, scale), w);
  w.dispose();
  const label = `${shape.join('x')}${opts.strided ? ' strided' : ''}`;
  expectClose(ours.y, ref.y, FWD, `${label} forward`);
  // dq and dk scale with |k| and |q|.
  ours.grads.forEach((g, i) => expectClose(g, ref.grads[i], { ...GRAD, atol: GRAD.atol * mag }, `${label} grad ${i}`));
}

for (const mode of MODES) {
  describe(`attention against matmul + softmax, ${mode.name}`, () => {
    useMode(mode.cfg);

    test('uses the requested mode', () => {
      if (mode.cfg) expect(attentionConfig()).toEqual(mode.cfg);
      // Under a forced GPU class (SECO_ADAPTER_CLASS=gpu) the default is the GPU blocks.
      else if (!T.engine().isCpu) expect(attentionConfig()).toEqual(GPU_CONFIG);
      else expect(attentionConfig().mode).toBe(T.engine().hasFeature('subgroups') ? 'subgroup' : 'shared');
    });

    // Every kernel variant (head dim, vec4 flags, mode) compiles once, seconds each on lavapipe; the GPU blocks
    // at d 64 (64 invocations x 16 rows between barriers) take llvmpipe minutes to compile, so that mode runs d 16.
    const shapes = [[1, 1, 7, 16], [2, 3, 17, 16], [1, 4, 37, 16], [1, 2, 197, 16]];
    const gpuBlocks = mode.cfg?.wg === 64;
    for (const shape of gpuBlocks ? shapes : [...shapes, [2, 2, 17, 64], ...(mode.cfg ? [] : [[1, 3, 197, 64]])]) {
      test(`B, H, N, d = ${shape.join(', ')}`, async () => {
        await compareWithComposed(shape, shape[2] + shape[3]);
      });
    }

    test('q, k, v as permuted views of one qkv tensor (read in place), gradient into qkv', async () => {
      await compareWithComposed([2, 3, 37, 16], 5, { strided: true });
      if (!gpuBlocks) await compareWithComposed([1, 2, 17, 64], 6, { strided: true });
    });

    test('head dims that are not a multiple of 4 (scalar loads)', async () => {
      await compareWithComposed([1, 2, 19, 6], 8);
    });

    test('explicit scale', async () => {
      await compareWithComposed([1, 2, 23, 16], 9, { scale: 0.7 });
    });
  });
}

/** f64 attention of dense (B, H, N, d) arrays. */
function cpuAttention([q, k, v]: ND[], scale: number): ND {
  const [B, H, N, d] = q.shape;
  const out = new Float64Array(q.data.length);
  const s = new Float64Array(N);
  for (let z = 0; z < B * H; z++) {
    const base = z * N * d;
    for (let i = 0; i < N; i++) {
      let m = -Infinity;
      for (let j = 0; j < N; j++) {
        let acc = 0;
        for (let c = 0; c < d; c++) acc += q.data[base + i * d + c] * k.data[base + j * d + c];
        s[j] = acc * scale;
        m = Math.max(m, s[j]);
      }
      let l = 0;
      for (let j = 0; j < N; j++) l += (s[j] = Math.exp(s[j] - m));
      for (let c = 0; c < d; c++) {
        let acc = 0;
        for (let j = 0; j < N; j++) acc += s[j] * v.data[base + j * d + c];
        out[base + i * d + c] = acc / l;
      }
    }
  }
  return { data: out, shape: q.shape };
}

describe('attention gradients by finite differences (f64 CPU reference)', () => {
  for (const [B, H, N, d] of [
    [1, 1, 7, 16],
    [1, 2, 17, 16],
    [2, 1, 17, 16],
    [1, 1, 37, 16],
    [1, 4, 7, 16],
  ]) {
    test(`B, H, N, d = ${B}, ${H}, ${N}, ${d}`, async () => {
      const rng = seededUniform(N * 31 + H);
      const shape = [B, H, N, d];
      const scale = 1 / Math.sqrt(d);
      await gradcheck({
        label: `attention ${shape.join('x')}`,
        inputs: [randomND(shape, rng), randomND(shape, rng), randomND(shape, rng)],
        gpu: ([q, k, v]) => T.attention(q, k, v),
        cpu: (xs) => cpuAttention(xs, scale),
        gradTol: GRAD,
      });
    });
  }
});

describe('attention stability', () => {
  test('scores in the thousands: matches the f64 reference, no NaN', async () => {
    const shape = [1, 2, 33, 16];
    const rng = seededUniform(3);
    const xs = [randomND(shape, rng, -30, 30), randomND(shape, rng, -30, 30), randomND(shape, rng)];
    const [q, k, v] = xs.map((x) => T.tensor(Float32Array.from(x.data), shape));
    const y = T.attention(q, k, v, { scale: 1 });
    // f32 scores of ~1e4 carry absolute rounding of ~1e-3, enough to shift near-tied rows: compare loosely.
    expectClose(await y.data(), cpuAttention(xs, 1).data, { rtol: 1e-2, atol: 1e-2 }, 'large scores');
    expect(Array.from(await y.data()).every(Number.isFinite)).toBe(true);
    [q, k, v, y].forEach((t) => t.dispose());
  });

  test('large-magnitude gradients match the composed version', async () => {
    for (const mode of [null, CPU_SHARED_CONFIG]) {
      setAttentionConfig(mode);
      await compareWithComposed([1, 2, 29, 16], 11, { qkMag: 6, scale: 1 });
    }
    setAttentionConfig(null);
  });
});

describe('attention memory', () => {
  test('785 tokens x 12 heads x batch 5, forward and backward, never allocates the N x N scores', async () => {
    const [B, H, N, d] = [5, 12, 785, 64];
    const scoresBytes = N * N * H * B * 4;
    const qkv = T.randn([B, N, 3, H, d]);
    // Strided leaves sharing qkv's storage: the gradients land in .grad without the views' scatter back into qkv.
    const [q, k, v] = viewsOf(qkv).map((t) => {
      const leaf = T.detach(t).requiresGrad_();
      t.dispose();
      return leaf;
    });
    expect(q.strides).toEqual([N * 3 * H * d, d, 3 * H * d, 1]);
    const g = T.randn([B, H, N, d]);
    const before = T.memoryStats();
    // The high-water mark must be below what this test measures, or the test could not fail.
    expect(before.peakLiveBytes - before.liveBytes).toBeLessThan(scoresBytes / 2);
    const y = T.attention(q, k, v);
    y.backward(g);
    const o = await y.data();
    const grads = await Promise.all([q, k, v].map((t) => t.grad!.data()));
    const grown = T.memoryStats().peakLiveBytes - before.liveBytes;
    // Output and three gradients of (B, H, N, d): about 4 x 15 MiB; the scores alone would be 141 MiB.
    expect(grown).toBeLessThan(scoresBytes / 2);
    expect(o.every(Number.isFinite)).toBe(true);
    for (const gr of grads) expect(gr.every(Number.isFinite)).toBe(true);
    console.log(`attention ${B}x${H}x${N}x${d}: peak grew ${(grown / 2 ** 20).toFixed(1)} MiB (scores would be ${(scoresBytes / 2 ** 20).toFixed(1)} MiB)`);
    [y, g, qkv, ...[q, k, v].flatMap((t) => [t.grad!, t])].forEach((t) => t.dispose());
  });
});

describe('attention errors name the op and the shapes', () => {
  const cases: [string, () => Tensor[], RegExp][] = [
    ['different shapes', () => [T.zeros([1, 2, 5, 8]), T.zeros([1, 2, 6, 8]), T.zeros([1, 2, 6, 8])], /attention: .*same shape.*\[1, 2, 5, 8\].*\[1, 2, 6, 8\]/],
    ['rank 3', () => [T.zeros([2, 5, 8]), T.zeros([2, 5, 8]), T.zeros([2, 5, 8])], /attention: q must be 4-D.*\[2, 5, 8\]/],
    ['i32 input', () => [T.zeros([1, 1, 2, 4], 'i32'), T.zeros([1, 1, 2, 4]), T.zeros([1, 1, 2, 4])], /attention: q must be f32 or f16, got i32 of shape \[1, 1, 2, 4\]/],
  ];
  for (const [name, make, re] of cases) {
    test(name, () => {
      const [q, k, v] = make();
      expect(() => T.attention(q, k, v)).toThrow(re);
      [q, k, v].forEach((t) => t.dispose());
    });
  }
});
