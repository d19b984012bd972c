import { beforeAll, describe, expect, test } from 'vitest';
import * as T from '../src/index.ts';
import { type Tensor } from '../src/index.ts';
import { checkCase, loadGroup } from '../../../test/support/fixtures.ts';
import { cpuMap, gradcheck, randomND, seededUniform } from '../../../test/support/gradcheck.ts';

beforeAll(async () => {
  await T.init();
});

const group = loadGroup('ops/elementwise.json');

describe('elementwise against PyTorch fixtures', () => {
  for (const c of group.cases) {
    test(c.name, async () => {
      await checkCase(c, (inp, p) => {
        const op = p.op as string;
        if (op === 'pow') return { out: T.pow(inp.x, p.exponent as number) };
        if (op === 'gelu') return { out: T.gelu(inp.x) };
        if ('x' in inp) return { out: T.unary(op as T.UnaryName, inp.x) };
        const b = 'scalar' in p ? (p.scalar as number) : inp.b;
        return { out: T.binary(op as T.BinaryName, inp.a, b) };
      });
    });
  }
});

const erf = (x: number): number => {
  // Series / continued fraction in f64, accurate far beyond f32.
  const t = Math.abs(x);
  if (t < 3) {
    let sum = t;
    let term = t;
    for (let n = 1; n < 80; n++) {
      term *= (-t * t) / n;
      sum += term / (2 * n + 1);
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  let f = 0;
  for (let n = 60; n >= 1; n--) f = n / 2 / (t + f);
  return Math.sign(x) * (1 - Math.exp(-t * t) / Math.sqrt(Math.PI) / (t + f));
};

const UNARY_REF: Record<string, { f: (x: number) => number; lo: number; hi: number }> = {
  exp: { f: Math.exp, lo: -3, hi: 3 },
  log: { f: Math.log, lo: 0.2, hi: 4 },
  sqrt: { f: Math.sqrt, lo: 0.2, hi: 4 },
  rsqrt: { f: (x) => 1 / Math.sqrt(x), lo: 0.3, hi: 4 },
  tanh: { f: Math.tanh, lo: -3, hi: 3 },
  sigmoid: { f: (x) => 1 / (1 + Math.exp(-x)), lo: -6, hi: 6 },
  gelu: { f: (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)), lo: -4, hi: 4 },
  sin: { f: Math.sin, lo: -3, hi: 3 },
  cos: { f: Math.cos, lo: -3, hi: 3 },
  reciprocal: { f: (x) => 1 / x, lo: 0.5, hi: 3 },
  square: { f: (x) => x * x, lo: -3, hi: 3 },
  neg: { f: (x) => -x, lo: -3, hi: 3 },
};

describe('elementwise gradients by finite differences (f64 CPU reference)', () => {
  const rng = seededUniform(11);
  for (const [name, ref] of Object.entries(UNARY_REF)) {
    test(`${name} at 7x37`, async () => {
      await gradcheck({
        label: name,
        inputs: [randomND([7, 37], rng, ref.lo, ref.hi)],
        gpu: ([x]) => T.unary(name as T.UnaryName, x),
        cpu: ([x]) => cpuMap([x], ref.f),
      });
    });
  }
  test('relu and abs away from the kink', async () => {
    const x = randomND([13, 7], rng, 0.05, 2);
    for (let i = 0; i < x.data.length; i += 2) x.data[i] = -x.data[i];
    await gradcheck({ label: 'relu', inputs: [x], gpu: ([t]) => T.relu(t), cpu: ([t]) => cpuMap([t], (v) => Math.max(v, 0)) });
    await gradcheck({ label: 'abs', inputs: [x], gpu: ([t]) => T.abs(t), cpu: ([t]) => cpuMap([t], Math.abs) });
  });

  const BIN: Record<string, (a: number, b: number) => number> = {
    add: (a, b) => a + b,
    sub: (a, b) => a - b,
    mul: (a, b) => a * b,
    div: (a, b) => a / b,
    maximum: Math.max,
    minimum: Math.min,
    pow: (a, b) => a ** b,
  };
  for (const [name, f] of Object.entries(BIN)) {
    test(`${name} with broadcasting 13x1x7 by 37x1`, async () => {
      const pos = name === 'pow' || name === 'div';
      await gradcheck({
        label: name,
        inputs: [randomND([13, 1, 7], rng, pos ? 0.5 : -2, 2), randomND([37, 1], rng, pos ? 0.5 : -2, 2)],
        gpu: ([a, b]) => T.binary(name as T.BinaryName, a, b),
        cpu: (xs) => cpuMap(xs, f),
      });
    });
  }

  test('where routes gradients by the condition', async () => {
    const cond = randomND([7, 13], rng, 0, 1);
    await gradcheck({
      label: 'where',
      inputs: [randomND([7, 13], rng), randomND([13], rng)],
      gpu: ([a, b]) => {
        const c = T.tensor(Float32Array.from(cond.data, (v) => (v > 0.5 ? 1 : 0)), cond.shape);
        return T.where(c, a, b);
      },
      cpu: ([a, b]) => cpuMap([{ data: cond.data, shape: cond.shape }, a, b], (c, x, y) => (c > 0.5 ? x : y)),
    });
  });

  test('clamp passes gradient only inside the bounds', async () => {
    await gradcheck({
      label: 'clamp',
      inputs: [randomND([197], rng, -2, 2)],
      gpu: ([x]) => T.clamp(x, -0.7, 0.9),
      cpu: ([x]) => cpuMap([x], (v) => Math.min(Math.max(v, -0.7), 0.9)),
    });
  });

  test('ops read strided views in place (transposed, sliced, expanded)', async () => {
    await gradcheck({
      label: 'mul of views',
      inputs: [randomND([13, 7], rng), randomND([7, 1], rng)],
      gpu: ([a, b]) => T.mul(T.transpose(a), T.expand(b, [7, 13])).slice([[1, 7, 2], [0, 13, 3]]),
      cpu: ([a, b]) => {
        const out: number[] = [];
        for (let i = 1; i < 7; i += 2) for (let j = 0; j < 13; j += 3) out.push(a.data[j * 7 + i] * b.data[i]);
        return { data: Float64Array.from(out), shape: [3, 5] };
      },
    });
  });
});

describe('elementwise semantics', () => {
  test('comparisons give u32 masks and promote with floats', async () => {
    const a = T.tensor([1, 5, 3]);
    const m = T.gt(a, 2);
    expect(m.dtype).toBe('u32');
    expect(Array.from(await m.data())).toEqual([0, 1, 1]);
    const y = T.mul(m, a);
    expect(y.dtype).toBe('f32');
    expect(Array.from(await y.data())).toEqual([0, 5, 3]);
  });

  test('integer arithmetic stays integer; division is true division', async () => {
    const a = T.tensor(new Int32Array([7, -3, 9]));
    expect(T.add(a, 2).dtype).toBe('i32');
    expect(Array.from(await T.add(a, 2).data())).toEqual([9, -1, 11]);
    expect(Array.from(await T.div(a, 2).data())).toEqual([3.5, -1.5, 4.5]);
    expect(T.add(a, 0.5).dtype).toBe('f32');
  });

  test('sigmoid and tanh stay finite at large magnitudes', async () => {
    const x = T.tensor([-200, -90, -30, 30, 90, 200]);
    const s = Array.from(await T.sigmoid(x).data());
    const t = Array.from(await T.tanh(x).data());
    expect(s.every(Number.isFinite)).toBe(true);
    expect(t).toEqual([-1, -1, -1, 1, 1, 1]);
    expect(s[0]).toBe(0);
    expect(s[5]).toBe(1);
  });

  test('pow with negative bases follows PyTorch: integer exponents keep the sign, fractional give NaN', async () => {
    const x = T.tensor([-2, -0.5, 3]);
    expect(Array.from(await T.pow(x, 3).data())).toEqual([-8, -0.125, 27]);
    const half = Array.from(await T.pow(x, 0.5).data());
    expect(Number.isNaN(half[0])).toBe(true);
    expect(half[2]).toBeCloseTo(Math.sqrt(3), 6);
  });

  test('large tensors fold the dispatch grid (more than 65535 workgroups)', async () => {
    const n = 65536 * 256 + 1000;
    const x = T.full([n], 2);
    const y = T.mul(x, 3);
    const s = await T.sum(y).item();
    expect(s).toBeCloseTo(6 * n, -3);
    const tail = await y.slice([[n - 3]]).data();
    expect(Array.from(tail)).toEqual([6, 6, 6]);
    x.dispose();
    y.dispose();
  });
});

describe('elementwise bad input', () => {
  test('shapes that do not broadcast name the op and the shapes', () => {
    expect(() => T.add(T.zeros([2, 3]), T.zeros([4]))).toThrow(/add: operands do not broadcast \(shapes \[2, 3\], \[4\]\)/);
  });
  test('a disposed tensor names itself', () => {
    const t: Tensor = T.zeros([3]);
    t.dispose();
    expect(() => T.exp(t)).toThrow(/used after dispose/);
  });
  test('a non-tensor operand is rejected', () => {
    expect(() => T.exp(3 as unknown as Tensor)).toThrow(/exp: input must be a Tensor/);
  });
});
