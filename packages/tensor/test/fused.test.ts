import { beforeAll, describe, expect, test } from 'vitest';
import * as T from '../src/index.ts';
import { expectClose } from '../../../test/support/fixtures.ts';
import { gradcheck, type ND, randomND, seededUniform } from '../../../test/support/gradcheck.ts';

beforeAll(async () => {
  await T.init();
});

/** f64 erf (Math has none): Maclaurin series below 3, the erfc continued fraction above. */
function erf(x: number): number {
  const z = Math.abs(x);
  let r: number;
  if (z < 3) {
    // Maclaurin series, converges fast below 3.
    let term = z;
    let s = z;
    for (let n = 1; n < 80; n++) {
      term *= (-z * z) / n;
      s += term / (2 * n + 1);
    }
    r = (2 / Math.sqrt(Math.PI)) * s;
  } else {
    // erfc by its continued fraction, accurate for large z.
    let cf = 0;
    for (let n = 60; n >= 1; n--) cf = n / 2 / (z + cf);
    r = 1 - Math.exp(-z * z) / Math.sqrt(Math.PI) / (z + cf);
  }
  return x < 0 ? -r : r;
}

function cpuBiasGelu([x, b]: ND[]): ND {
  const C = b.shape[0];
  const out = new Float64Array(x.data.length);
  for (let i = 0; i < out.length; i++) {
    const u = x.data[i] + b.data[i % C];
    out[i] = 0.5 * u * (1 + erf(u / Math.SQRT2));
  }
  return { data: out, shape: x.shape };
}

const rand = (shape: number[], seed: number, scale = 3) => {
  const x = randomND(shape, seededUniform(seed), -scale, scale);
  return T.tensor(Float32Array.from(x.data), shape);
};

describe('biasGelu', () => {
  test('matches gelu(x + bias) composed from existing ops, forward and gradients', async () => {
    for (const shape of [[7, 13], [2, 5, 33], [197, 96]]) {
      const C = shape.at(-1)!;
      const leaves = () => [rand(shape, C), rand([C], C + 1)].map((t) => t.requiresGrad_());
      const w = rand(shape, 99, 1);
      const results = [];
      for (const f of [(x: T.Tensor, b: T.Tensor) => T.biasGelu(x, b), (x: T.Tensor, b: T.Tensor) => T.gelu(T.add(x, b))]) {
        const [x, b] = leaves();
        const y = f(x, b);
        T.scope(() => T.sum(T.mul(y, w)).backward());
        results.push([await y.data(), await x.grad!.data(), await b.grad!.data()]);
        [y, x.grad!, b.grad!, x, b].forEach((t) => t.dispose());
      }
      w.dispose();
      expectClose(results[0][0], results[1][0], { rtol: 1e-5, atol: 1e-6 }, `${shape} forward`);
      expectClose(results[0][1], results[1][1], { rtol: 1e-4, atol: 1e-5 }, `${shape} dx`);
      expectClose(results[0][2], results[1][2], { rtol: 1e-4, atol: 1e-4 }, `${shape} dbias`);
    }
  });

  test('finite differences of an f64 reference', async () => {
    for (const shape of [[5, 7], [3, 4, 9]]) {
      const rng = seededUniform(shape.length * 17);
      await gradcheck({
        label: `biasGelu ${shape}`,
        inputs: [randomND(shape, rng, -3, 3), randomND([shape.at(-1)!], rng)],
        gpu: ([x, b]) => T.biasGelu(x, b),
        cpu: cpuBiasGelu,
        gradTol: { rtol: 1e-3, atol: 1e-4 },
      });
    }
  });

  test('strided x (a transposed view) is read in place', async () => {
    const base = rand([6, 10], 4);
    const xt = T.transpose(base, 0, 1);
    const b = rand([6], 5);
    const y = T.biasGelu(xt, b);
    const want = cpuBiasGelu([{ data: Float64Array.from(await T.contiguous(xt).data()), shape: [10, 6] }, { data: Float64Array.from(await b.data()), shape: [6] }]);
    expectClose(await y.data(), want.data, { rtol: 1e-5, atol: 1e-6 }, 'strided');
    [base, xt, b, y].forEach((t) => t.dispose());
  });

  test('bias of the wrong shape names the op and the shapes', () => {
    const x = T.zeros([4, 8]);
    const b = T.zeros([7]);
    expect(() => T.biasGelu(x, b)).toThrow(/bias_gelu: bias must have shape \[8\].*\[4, 8\], \[7\]/);
    [x, b].forEach((t) => t.dispose());
  });
});
