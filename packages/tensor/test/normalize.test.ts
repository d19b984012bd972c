import { beforeAll, describe, expect, test } from 'vitest';
import * as T from '../src/index.ts';
import { checkCase, expectClose, loadGroup } from '../../../test/support/fixtures.ts';
import { gradcheck, type ND, randomND, seededUniform } from '../../../test/support/gradcheck.ts';

beforeAll(async () => {
  await T.init();
});

const group = loadGroup('ops/normalize.json');

describe('normalize and cosine matrices against PyTorch fixtures', () => {
  for (const c of group.cases) {
    test(c.name, async () => {
      await checkCase(c, (inp, p) => {
        if (p.op === 'normalize') return { out: T.normalize(inp.x, { dim: p.dim as number, eps: p.eps as number }) };
        if (p.op !== 'cosine_matrix') throw new Error(`unexpected op ${String(p.op)}`);
        // The two formulas in the file: SeCo's PTC |xnᵀ xn| over (B, C, N), and rows of a against rows of b.
        if ('x' in inp) return { out: T.cosineSimilarityMatrix(inp.x, null, { dim: -2, eps: 1e-8, abs: true }) };
        return { out: T.cosineSimilarityMatrix(inp.a, inp.b, { dim: -1, eps: 1e-12 }) };
      });
    });
  }
});

/** f64 L2 normalisation along `dim`. */
function cpuNormalize(x: ND, dim: number, eps: number): ND {
  const shape = x.shape;
  const d = dim < 0 ? dim + shape.length : dim;
  const inner = shape.slice(d + 1).reduce((a, b) => a * b, 1);
  const outer = shape.slice(0, d).reduce((a, b) => a * b, 1);
  const n = shape[d];
  const out = new Float64Array(x.data.length);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let ss = 0;
      for (let k = 0; k < n; k++) ss += x.data[(o * n + k) * inner + i] ** 2;
      const den = Math.max(Math.sqrt(ss), eps);
      for (let k = 0; k < n; k++) out[(o * n + k) * inner + i] = x.data[(o * n + k) * inner + i] / den;
    }
  }
  return { data: out, shape: [...shape] };
}

/** f64 cosine matrix: rows of a (M, D) against rows of b (K, D). */
function cpuCosine(a: ND, b: ND, eps: number, absolute: boolean): ND {
  const an = cpuNormalize(a, -1, eps);
  const bn = cpuNormalize(b, -1, eps);
  const [M, D] = a.shape;
  const K = b.shape[0];
  const out = new Float64Array(M * K);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < K; j++) {
      let s = 0;
      for (let d = 0; d < D; d++) s += an.data[i * D + d] * bn.data[j * D + d];
      out[i * K + j] = absolute ? Math.abs(s) : s;
    }
  }
  return { data: out, shape: [M, K] };
}

describe('normalize gradients by finite differences (f64 CPU reference)', () => {
  const rng = seededUniform(41);
  const cases: [number[], number][] = [
    [[7, 37], -1],
    [[2, 13, 7], 1],
    [[13, 7], 0],
    [[3, 150], 1], // long rows: a workgroup per row
  ];
  for (const [shape, dim] of cases) {
    test(`${shape.join('x')} along dim ${dim}`, async () => {
      await gradcheck({
        label: 'normalize',
        inputs: [randomND(shape, rng)],
        gpu: ([x]) => T.normalize(x, { dim, eps: 1e-12 }),
        cpu: ([x]) => cpuNormalize(x, dim, 1e-12),
      });
    });
  }
  test('rows with a norm below eps are divided by eps', async () => {
    const x = randomND([7, 13], rng);
    for (let k = 0; k < 13; k++) {
      x.data[13 + k] = Math.fround(x.data[13 + k] * 0.01); // norm ≈ 0.02 < eps
      x.data[39 + k] = 0;
    }
    await gradcheck({
      label: 'normalize small rows',
      inputs: [x],
      gpu: ([t]) => T.normalize(t, { dim: -1, eps: 0.1 }),
      cpu: ([t]) => cpuNormalize(t, -1, 0.1),
    });
  });
  test('cosine matrix of rows, a against b', async () => {
    await gradcheck({
      label: 'cosine a b',
      inputs: [randomND([13, 7], rng), randomND([37, 7], rng)],
      gpu: ([a, b]) => T.cosineSimilarityMatrix(a, b, { eps: 1e-8 }),
      cpu: ([a, b]) => cpuCosine(a, b, 1e-8, false),
    });
  });
  test('|cosine| of feature columns with itself, batched (SeCo PTC layout)', async () => {
    const toRows = (x: ND, bi: number): ND => {
      const [, C, N] = x.shape;
      const r = new Float64Array(N * C);
      for (let c = 0; c < C; c++) for (let n = 0; n < N; n++) r[n * C + c] = x.data[(bi * C + c) * N + n];
      return { data: r, shape: [N, C] };
    };
    await gradcheck({
      label: 'ptc cosine',
      inputs: [randomND([2, 7, 13], rng)],
      gpu: ([x]) => T.cosineSimilarityMatrix(x, null, { dim: -2, eps: 1e-8, abs: true }),
      cpu: ([x]) => {
        const parts = [0, 1].map((bi) => cpuCosine(toRows(x, bi), toRows(x, bi), 1e-8, true));
        return { data: Float64Array.from([...parts[0].data, ...parts[1].data]), shape: [2, 13, 13] };
      },
    });
  });
});

describe('normalize under createGraph', () => {
  test('the composed backward matches the kernel and stays differentiable', async () => {
    const rng = seededUniform(8);
    const xd = Float32Array.from(randomND([5, 11], rng).data);
    const wd = T.tensor(Float32Array.from(randomND([5, 11], rng).data), [5, 11]);
    const plain = T.tensor(xd, [5, 11]).requiresGrad_();
    const graph = T.tensor(xd, [5, 11]).requiresGrad_();
    T.scope(() => T.sum(T.mul(T.normalize(plain, { dim: -1 }), wd)).backward());
    T.scope(() => T.sum(T.mul(T.normalize(graph, { dim: -1 }), wd)).backward(undefined, { createGraph: true }));
    expect(plain.grad!.requiresGrad).toBe(false);
    expect(graph.grad!.requiresGrad).toBe(true);
    expectClose(await graph.grad!.data(), Array.from(await plain.grad!.data()), { rtol: 1e-5, atol: 1e-6 }, 'createGraph grad');
    for (const t of [plain, graph, plain.grad!, graph.grad!, wd]) t.dispose();
  });
});

describe('normalize rejects bad input', () => {
  const cases: [string, () => unknown, RegExp][] = [
    ['dim out of range', () => T.normalize(T.zeros([3, 4]), { dim: 2 }), /normalize: dim 2 out of range .*\[3, 4\]/],
    ['integer input', () => T.normalize(T.zeros([3, 4], 'i32')), /normalize: needs f32/],
    ['eps 0', () => T.normalize(T.zeros([3, 4]), { eps: 0 }), /normalize: eps must be > 0/],
    ['cosine feature mismatch', () => T.cosineSimilarityMatrix(T.zeros([3, 4]), T.zeros([5, 6])), /cosineSimilarityMatrix: feature sizes differ.*\[3, 4\], \[5, 6\]/],
    ['cosine of a vector', () => T.cosineSimilarityMatrix(T.zeros([4])), /cosineSimilarityMatrix: needs tensors of rank >= 2/],
  ];
  for (const [label, fn, msg] of cases) {
    test(label, () => {
      T.scope(() => {
        expect(fn).toThrow(msg);
      });
    });
  }
});
