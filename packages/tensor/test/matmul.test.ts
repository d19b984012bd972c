import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import * as T from '../src/index.ts';
import type { Tensor } from '../src/index.ts';
import { planMatmul, setMatmulSubgroups } from '../src/kernels/matmul-run.ts';
import { candidatesFor, clearMatmulTuning } from '../src/kernels/matmul-tune.ts';
import { checkCase, expectClose, loadGroup } from '../../../test/support/fixtures.ts';
import { gradcheck, type ND, randomND, seededUniform } from '../../../test/support/gradcheck.ts';

beforeAll(async () => {
  await T.init();
});
afterEach(() => clearMatmulTuning());

/** Both kernel families: with subgroup row sharing (where the device has it) and the plain one. */
const FAMILIES = [true, false];
function useFamily(sg: boolean): void {
  beforeAll(() => setMatmulSubgroups(sg));
  afterAll(() => setMatmulSubgroups(true));
}

const group = loadGroup('ops/matmul.json');

for (const sg of FAMILIES) describe(`matmul against PyTorch fixtures, ${sg ? 'subgroup' : 'plain'} kernel`, () => {
  useFamily(sg);
  for (const c of group.cases) {
    test(c.name, async () => {
      await checkCase(c, (inp, p) => {
        if (p.op === 'linear') return { out: T.linear(inp.x, inp.weight, inp.bias) };
        return { out: T.matmul(inp.a, inp.b, { transposeA: p.transpose_a === true, transposeB: p.transpose_b === true }) };
      });
    });
  }
  test('the fixture cases are all matmul or linear', () => {
    expect(group.cases.length).toBeGreaterThan(0);
    for (const c of group.cases) expect(['matmul', 'linear']).toContain(c.params.op);
  });
});

// ---------------------------------------------------------------- f64 CPU reference

/** op(a)·op(b) in f64 with torch.matmul batch broadcasting (operands of rank >= 2). */
function cpuMatmul(a: ND, b: ND, tA = false, tB = false): ND {
  const ra = a.shape.length;
  const rb = b.shape.length;
  const [M, K] = tA ? [a.shape[ra - 1], a.shape[ra - 2]] : [a.shape[ra - 2], a.shape[ra - 1]];
  const N = tB ? b.shape[rb - 2] : b.shape[rb - 1];
  const ba = a.shape.slice(0, -2);
  const bb = b.shape.slice(0, -2);
  const rank = Math.max(ba.length, bb.length);
  const batch = Array.from({ length: rank }, (_, i) => Math.max(ba[i - rank + ba.length] ?? 1, bb[i - rank + bb.length] ?? 1));
  const nb = batch.reduce((x, y) => x * y, 1);
  const out = new Float64Array(nb * M * N);
  const blockOffset = (shape: number[], idx: number[], block: number) => {
    let o = 0;
    for (let d = 0; d < shape.length; d++) o = o * shape[d] + (shape[d] === 1 ? 0 : idx[d + rank - shape.length]);
    return o * block;
  };
  const idx = new Array<number>(rank).fill(0);
  for (let bi = 0; bi < nb; bi++) {
    let r = bi;
    for (let d = rank - 1; d >= 0; d--) {
      idx[d] = r % batch[d];
      r = Math.floor(r / batch[d]);
    }
    const oa = blockOffset(ba, idx, M * K);
    const ob = blockOffset(bb, idx, K * N);
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) {
          const av = a.data[oa + (tA ? k * M + i : i * K + k)];
          const bv = b.data[ob + (tB ? j * K + k : k * N + j)];
          s += av * bv;
        }
        out[(bi * M + i) * N + j] = s;
      }
    }
  }
  return { data: out, shape: [...batch, M, N] };
}

/** Swaps the last two dims of a dense f64 array. */
function cpuTranspose(x: ND): ND {
  const r = x.shape.length;
  const [R, C] = [x.shape[r - 2], x.shape[r - 1]];
  const out = new Float64Array(x.data.length);
  for (let b = 0; b < x.data.length / (R * C); b++)
    for (let i = 0; i < R; i++) for (let j = 0; j < C; j++) out[b * R * C + j * R + i] = x.data[b * R * C + i * C + j];
  return { data: out, shape: [...x.shape.slice(0, -2), C, R] };
}

const rng = seededUniform(2024);

for (const sg of FAMILIES) describe(`matmul gradients by finite differences (f64 CPU reference), ${sg ? 'subgroup' : 'plain'} kernel`, () => {
  useFamily(sg);
  const flags: [boolean, boolean][] = [
    [false, false],
    [false, true],
    [true, false],
    [true, true],
  ];
  for (const [tA, tB] of flags) {
    test(`2-D 37x13 by 13x7 with transposeA=${tA} transposeB=${tB}`, async () => {
      const [M, K, N] = [37, 13, 7];
      await gradcheck({
        label: `matmul tA=${tA} tB=${tB}`,
        inputs: [randomND(tA ? [K, M] : [M, K], rng), randomND(tB ? [N, K] : [K, N], rng)],
        gpu: ([a, b]) => T.matmul(a, b, { transposeA: tA, transposeB: tB }),
        cpu: ([a, b]) => cpuMatmul(a, b, tA, tB),
      });
    });
  }

  test('197 rows with K a multiple of 4 (vec4 reads of A) and a transposed B (vec4 reads of B)', async () => {
    await gradcheck({
      label: 'matmul 197x16 by (13x16)ᵀ',
      inputs: [randomND([197, 16], rng), randomND([13, 16], rng)],
      gpu: ([a, b]) => T.matmul(a, b, { transposeB: true }),
      cpu: ([a, b]) => cpuMatmul(a, b, false, true),
    });
  });

  test('transposed views (inner stride != 1) are read in place', async () => {
    await gradcheck({
      label: 'matmul of x.transpose() and y.transpose()',
      inputs: [randomND([13, 37], rng), randomND([7, 13], rng)],
      gpu: ([x, y]) => T.matmul(x.transpose(), y.transpose()),
      cpu: ([x, y]) => cpuMatmul(cpuTranspose(x), cpuTranspose(y)),
    });
  });

  test('broadcast batches 2x1x7x13 by 3x13x5 reduce their gradients over the broadcast dims', async () => {
    await gradcheck({
      label: 'matmul broadcast batch',
      inputs: [randomND([2, 1, 7, 13], rng), randomND([3, 13, 5], rng)],
      gpu: ([a, b]) => T.matmul(a, b),
      cpu: ([a, b]) => cpuMatmul(a, b),
    });
  });

  test('4-D by 2-D (folded into one taller product) with a transposed batched view', async () => {
    await gradcheck({
      label: 'matmul 2x3x13x8 (as transposed view) by 8x7',
      inputs: [randomND([2, 3, 8, 13], rng), randomND([8, 7], rng)],
      gpu: ([a, b]) => T.matmul(a.transpose(), b),
      cpu: ([a, b]) => cpuMatmul(cpuTranspose(a), b),
    });
    await gradcheck({
      label: 'matmul 2x3x13x8 by 8x7',
      inputs: [randomND([2, 3, 13, 8], rng), randomND([8, 7], rng)],
      gpu: ([a, b]) => T.matmul(a, b),
      cpu: ([a, b]) => cpuMatmul(a, b),
    });
  });

  test('batched attention shape q·kᵀ with 197 tokens', async () => {
    await gradcheck({
      label: 'matmul 2x197x8 by (2x13x8)ᵀ',
      inputs: [randomND([2, 197, 8], rng), randomND([2, 13, 8], rng)],
      gpu: ([q, k]) => T.matmul(q, k, { transposeB: true }),
      cpu: ([q, k]) => cpuMatmul(q, k, false, true),
    });
  });

  test('linear with bias over a 3-D input', async () => {
    await gradcheck({
      label: 'linear 2x13x7 by (37x7)ᵀ + bias',
      inputs: [randomND([2, 13, 7], rng), randomND([37, 7], rng), randomND([37], rng)],
      gpu: ([x, w, b]) => T.linear(x, w, b),
      cpu: ([x, w, b]) => {
        const y = cpuMatmul(x, w, false, true);
        for (let i = 0; i < y.data.length; i++) y.data[i] += b.data[i % 37];
        return y;
      },
    });
  });

  test('linear without bias on a 2-D input with K a multiple of 4', async () => {
    await gradcheck({
      label: 'linear 13x12 by (7x12)ᵀ',
      inputs: [randomND([13, 12], rng), randomND([7, 12], rng)],
      gpu: ([x, w]) => T.linear(x, w),
      cpu: ([x, w]) => cpuMatmul(x, w, false, true),
    });
  });
});

// ---------------------------------------------------------------- forward at larger and odd shapes

async function expectForward(a: ND, b: ND, tA: boolean, tB: boolean, label: string, prep?: (a: Tensor, b: Tensor) => [Tensor, Tensor]) {
  const ta = T.tensor(Float32Array.from(a.data), a.shape);
  const tb = T.tensor(Float32Array.from(b.data), b.shape);
  const [pa, pb] = prep ? prep(ta, tb) : [ta, tb];
  const out = T.matmul(pa, pb, { transposeA: tA, transposeB: tB });
  try {
    const ref = prep ? null : cpuMatmul(a, b, tA, tB);
    if (ref) {
      expect(out.shape).toEqual(ref.shape);
      expectClose(await out.data(), ref.data, { rtol: 1e-4, atol: 1e-4 }, label);
    }
    return out.data();
  } finally {
    for (const t of new Set([ta, tb, pa, pb, out])) t.dispose();
  }
}

for (const sg of FAMILIES) describe(`matmul forward at ViT-like row counts (edge guards), ${sg ? 'subgroup' : 'plain'} kernel`, () => {
  useFamily(sg);
  for (const M of [197, 785, 3140]) {
    test(`${M} rows by 36x29 and its transposed-B form`, async () => {
      const a = randomND([M, 36], rng);
      const b = randomND([36, 29], rng);
      await expectForward(a, b, false, false, `${M}x36x29`);
      await expectForward(a, cpuTranspose(b), false, true, `${M}x36x29 NT`);
    });
  }

  test('a row grid beyond the per-dimension workgroup limit is split into several dispatches', async () => {
    const M = 4 * T.engine().maxWorkgroupsPerDim + 13;
    await expectForward(randomND([M, 4], rng), randomND([4, 3], rng), false, false, `${M}x4x3`);
  });

  test('a slice with an unaligned offset falls back from vec4 reads and stays correct', async () => {
    const a = randomND([9, 16], rng);
    const b = randomND([16, 11], rng);
    const ta = T.tensor(Float32Array.from(a.data), a.shape);
    const tb = T.tensor(Float32Array.from(b.data), b.shape);
    const sa = T.slice(ta, [null, [1, 13]]);
    const sb = T.slice(tb, [[2, 14], [2, 11]]);
    expect(planMatmul(T.slice(ta, [null, [4, 16]]), sb, false, false, [], false).variant.aVec4).toBe(true);
    expect(planMatmul(sa, sb, false, false, [], false).variant.aVec4).toBe(false);
    const out = T.matmul(sa, sb);
    const refA: ND = { data: Float64Array.from({ length: 9 * 12 }, (_, i) => a.data[Math.floor(i / 12) * 16 + 1 + (i % 12)]), shape: [9, 12] };
    const refB: ND = { data: Float64Array.from({ length: 12 * 9 }, (_, i) => b.data[(2 + Math.floor(i / 9)) * 11 + 2 + (i % 9)]), shape: [12, 9] };
    expectClose(await out.data(), cpuMatmul(refA, refB).data, { rtol: 1e-4, atol: 1e-5 }, 'sliced');
    for (const t of [ta, tb, sa, sb, out]) t.dispose();
  });

  test('the NT variant reads B as vec4 along k only when aligned', () => {
    const q = T.zeros([2, 5, 8]);
    const k = T.zeros([2, 7, 8]);
    const k6 = T.zeros([2, 7, 6]);
    expect(planMatmul(q, k, false, true, [2], false).variant.bVec4).toBe(true);
    expect(planMatmul(T.zeros([2, 5, 6]), k6, false, true, [2], false).variant.bVec4).toBe(false);
    expect(planMatmul(q, T.zeros([8, 7]), false, false, [2], false)).toMatchObject({ M: 10, batchShape: [] });
    // Subgroup row sharing is a CPU-class kernel (the GPU class runs workgroup tiles).
    expect(planMatmul(q, k, false, true, [2], false).variant.subgroup).toBe(sg && T.engine().isCpu && T.engine().hasFeature('subgroups'));
  });
});

describe('matmul autotuning', () => {
  test('picks one of the candidates and later matmuls of that class stay correct', async () => {
    const a = randomND([53, 24], rng);
    const b = randomND([24, 70], rng);
    const ta = T.tensor(Float32Array.from(a.data), a.shape);
    const tb = T.tensor(Float32Array.from(b.data), b.shape);
    const r = await T.autotuneMatmul(ta, tb);
    expect(r.timings.length).toBeGreaterThanOrEqual(candidatesFor(planMatmul(ta, tb, false, false, [], false)).length);
    expect(r.timings.every((t) => t.ms > 0)).toBe(true);
    expect(r.timings.map((t) => t.config)).toContainEqual(r.config);
    const out = T.matmul(ta, tb);
    expectClose(await out.data(), cpuMatmul(a, b).data, { rtol: 1e-4, atol: 1e-5 }, 'after tuning');
    for (const t of [ta, tb, out]) t.dispose();
  });
});

describe('matmul input errors', () => {
  const f = (shape: number[], dtype: T.DType = 'f32') => T.zeros(shape, dtype);
  test('inner dimensions must agree, naming the op and shapes', () => {
    expect(() => T.matmul(f([3, 4]), f([5, 6]))).toThrow(/matmul: inner dimensions differ.*\[3, 4\], \[5, 6\]/);
    expect(() => T.matmul(f([3, 4]), f([3, 6]), { transposeA: true })).not.toThrow();
    expect(() => T.matmul(f([3, 4]), f([6, 5]), { transposeB: true })).toThrow(T.TensorError);
  });
  test('batch dims must broadcast', () => {
    expect(() => T.matmul(f([2, 3, 4]), f([3, 4, 5]))).toThrow(/batch dimensions do not broadcast.*\[2, 3, 4\], \[3, 4, 5\]/);
  });
  test('rank-1 operands and integer dtypes are refused', () => {
    expect(() => T.matmul(f([4]), f([4, 2]))).toThrow(/at least 2 dimensions/);
    expect(() => T.matmul(f([2, 4], 'i32'), f([4, 2]))).toThrow(/a must be f32, got i32/);
  });
  test('linear checks weight rank and bias length', () => {
    expect(() => T.linear(f([2, 4]), f([4]))).toThrow(/linear: weight must be 2-D/);
    expect(() => T.linear(f([2, 4]), f([3, 4]), f([4]))).toThrow(/linear: bias must have shape \[3\]/);
    expect(() => T.linear(f([2, 5]), f([3, 4]))).toThrow(/linear: inner dimensions differ/);
  });
});
