import { beforeAll, describe, expect, test } from 'vitest';
import * as T from '../src/index.ts';
import { checkCase, loadGroup, toTensor } from '../../../test/support/fixtures.ts';
import { cpuPermute, gradcheck, type ND, randomND, seededUniform } from '../../../test/support/gradcheck.ts';

beforeAll(async () => {
  await T.init();
});

const group = loadGroup('ops/softmax.json');

function run(x: T.Tensor, p: Record<string, unknown>): T.Tensor {
  const dim = p.dim as number;
  if (p.op === 'softmax') return T.softmax(x, dim);
  if (p.op === 'log_softmax') return T.logSoftmax(x, dim);
  throw new Error(`unknown op ${String(p.op)}`);
}

describe('softmax against PyTorch fixtures', () => {
  for (const c of group.cases) {
    test(c.name, async () => {
      await checkCase(c, (inp, p) => ({ out: run(inp.x, p) }));
    });
  }

  test('rows of at most two distinct values match PyTorch bit for bit', async () => {
    let checked = 0;
    for (const c of group.cases.filter((k) => k.name.includes('large_magnitude'))) {
      const x = toTensor(c.inputs.x);
      const y = run(x, c.params);
      const got = await y.data();
      const n = c.inputs.x.shape.at(-1)!;
      for (let r = 0; r < got.length / n; r++) {
        const row = c.inputs.x.data.slice(r * n, (r + 1) * n);
        if (new Set(row).size > 2) continue;
        const want = c.outputs.out.data.slice(r * n, (r + 1) * n).map((v) => Math.fround(v!));
        expect(Array.from(got.slice(r * n, (r + 1) * n)), `${c.name} row ${r}`).toEqual(want);
        checked++;
      }
      x.dispose();
      y.dispose();
    }
    expect(checked).toBeGreaterThanOrEqual(6);
  });
});

/** f64 softmax / log-softmax along `dim` of a dense array. */
function cpuSoftmax(x: ND, dim: number, log: boolean): ND {
  const shape = x.shape;
  const d = dim < 0 ? dim + shape.length : dim;
  const n = shape[d];
  const inner = shape.slice(d + 1).reduce((a, b) => a * b, 1);
  const outer = shape.slice(0, d).reduce((a, b) => a * b, 1);
  const out = new Float64Array(x.data.length);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const at = (k: number) => o * n * inner + k * inner + i;
      let m = -Infinity;
      for (let k = 0; k < n; k++) m = Math.max(m, x.data[at(k)]);
      let s = 0;
      for (let k = 0; k < n; k++) s += Math.exp(x.data[at(k)] - m);
      for (let k = 0; k < n; k++) out[at(k)] = log ? x.data[at(k)] - m - Math.log(s) : Math.exp(x.data[at(k)] - m) / s;
    }
  }
  return { data: out, shape: [...shape] };
}

describe('softmax gradients by finite differences (f64 CPU reference)', () => {
  const rng = seededUniform(23);
  const cases: { shape: number[]; dim: number }[] = [
    { shape: [7, 13], dim: -1 },
    { shape: [3, 37], dim: 0 },
    { shape: [2, 197], dim: 1 }, // a workgroup per row
    { shape: [197, 3], dim: 0 }, // a workgroup per row, strided along the row
    { shape: [2, 7, 13], dim: 1 },
    { shape: [64, 67], dim: -1 }, // long rows, many of them: the other mode on each kind of adapter
    { shape: [67, 64], dim: 0 },
  ];
  for (const log of [false, true]) {
    const name = log ? 'log_softmax' : 'softmax';
    const op = log ? T.logSoftmax : T.softmax;
    for (const { shape, dim } of cases) {
      test(`${name} ${shape.join('x')} dim ${dim}`, async () => {
        await gradcheck({
          label: name,
          inputs: [randomND(shape, rng, -4, 4)],
          gpu: ([x]) => op(x, dim),
          cpu: ([x]) => cpuSoftmax(x, dim, log),
        });
      });
    }
    test(`${name} of a permuted view, short and long rows`, async () => {
      for (const [shape, perm, dim] of [
        [[13, 5, 7], [2, 0, 1], -1],
        [[197, 2, 3], [1, 2, 0], 2],
      ] as [number[], number[], number][]) {
        await gradcheck({
          label: `${name} permute ${shape}`,
          inputs: [randomND(shape, rng, -3, 3)],
          gpu: ([x]) => op(T.permute(x, perm), dim),
          cpu: ([x]) => cpuSoftmax(cpuPermute(x, perm), dim, log),
        });
      }
    });
    test(`${name} of a sliced view`, async () => {
      // Every other column of the last 5 rows: an offset and a row stride of 2.
      const x = randomND([9, 37], rng, -3, 3);
      await gradcheck({
        label: `${name} slice`,
        inputs: [x],
        gpu: ([t]) => op(T.slice(t, [[4], [0, 37, 2]]), -1),
        cpu: ([t]) => {
          const rows = 5;
          const cols = 19;
          const d = new Float64Array(rows * cols);
          for (let r = 0; r < rows; r++) for (let k = 0; k < cols; k++) d[r * cols + k] = t.data[(r + 4) * 37 + 2 * k];
          return cpuSoftmax({ data: d, shape: [rows, cols] }, -1, log);
        },
      });
    });
  }
});

describe('softmax under createGraph', () => {
  test('second-order gradient matches finite differences of the first-order one', async () => {
    const rng = seededUniform(5);
    for (const [shape, log] of [
      [[3, 11], false],
      [[2, 70], true],
    ] as [number[], boolean][]) {
      const w = randomND(shape, rng);
      // d/dx Σ softmax(x)·w, in f64: J^T w.
      const cpuGrad = (x: ND): ND => {
        const y = cpuSoftmax(x, -1, log);
        const n = shape[1];
        const out = new Float64Array(x.data.length);
        for (let r = 0; r < shape[0]; r++) {
          let s = 0;
          for (let k = 0; k < n; k++) s += log ? w.data[r * n + k] : w.data[r * n + k] * y.data[r * n + k];
          for (let k = 0; k < n; k++) {
            const i = r * n + k;
            out[i] = log ? w.data[i] - Math.exp(y.data[i]) * s : y.data[i] * (w.data[i] - s);
          }
        }
        return { data: out, shape };
      };
      await gradcheck({
        label: `${log ? 'log_softmax' : 'softmax'} double backward`,
        inputs: [randomND(shape, rng, -2, 2)],
        gpu: ([x]) => {
          const wt = T.tensor(Float32Array.from(w.data), shape);
          T.sum(T.mul(log ? T.logSoftmax(x) : T.softmax(x), wt)).backward(undefined, { createGraph: true, retainGraph: true });
          const g = x.grad!;
          x.grad = null;
          return g;
        },
        cpu: ([x]) => cpuGrad(x),
      });
    }
  });
});

describe('softmax input errors', () => {
  test('dim out of range names the op and the shape', () => {
    const x = T.zeros([3, 4]);
    expect(() => T.softmax(x, 2)).toThrow(/softmax: dim 2 out of range for rank 2.*\[3, 4\]/);
    expect(() => T.logSoftmax(x, -3)).toThrow(/log_softmax: dim -3 out of range.*\[3, 4\]/);
    x.dispose();
  });
  test('integer input is refused', () => {
    const x = T.zeros([2, 5], 'i32');
    expect(() => T.softmax(x)).toThrow(/softmax: needs an f32 or f16 tensor, got i32.*\[2, 5\]/);
    x.dispose();
  });
  test('method sugar and a 0-d input', async () => {
    const x = T.tensor([[1, 2, 3]]);
    expect(Array.from(await x.softmax().data())).toEqual(Array.from(await T.softmax(x, -1).data()));
    expect(await T.softmax(T.scalar(3.5)).item()).toBe(1);
    expect(await T.logSoftmax(T.scalar(-2)).item()).toBe(0);
  });
});
