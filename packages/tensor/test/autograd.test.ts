import { beforeAll, describe, expect, test } from 'vitest';
import * as T from '../src/index.ts';

beforeAll(async () => {
  await T.init();
});

const values = async (t: T.Tensor) => Array.from(await t.data());

describe('autograd', () => {
  test('gradients accumulate across backward calls until cleared', async () => {
    const x = T.tensor([1, 2, 3]).requiresGrad_();
    T.sum(T.mul(x, x)).backward();
    T.sum(T.mul(x, 3)).backward();
    expect(await values(x.grad!)).toEqual([5, 7, 9]);
  });

  test('a tensor used twice receives the sum of both paths', async () => {
    const x = T.tensor([0.5, -1]).requiresGrad_();
    const y = T.add(T.exp(x), T.mul(x, x));
    T.sum(y).backward();
    const g = await values(x.grad!);
    expect(g[0]).toBeCloseTo(Math.exp(0.5) + 1, 5);
    expect(g[1]).toBeCloseTo(Math.exp(-1) - 2, 5);
  });

  test('noGrad records nothing and detach cuts the graph', () => {
    const x = T.tensor([1, 2]).requiresGrad_();
    const y = T.noGrad(() => T.mul(x, 2));
    expect(y.requiresGrad).toBe(false);
    const z = T.mul(x, 2).detach();
    expect(z.requiresGrad).toBe(false);
    expect(() => T.sum(z).backward()).toThrow(/does not require grad/);
  });

  test('backward of a non-scalar needs an explicit gradient', async () => {
    const x = T.tensor([1, 2]).requiresGrad_();
    const y = T.mul(x, 3);
    expect(() => y.backward()).toThrow(/backward: implicit gradient needs a scalar, got shape \[2\]/);
    y.backward(T.tensor([1, 10]));
    expect(await values(x.grad!)).toEqual([3, 30]);
  });

  test('a second backward through a freed graph is an error unless retained', async () => {
    const x = T.tensor([2]).requiresGrad_();
    const y = T.sum(T.exp(x));
    y.backward(undefined, { retainGraph: true });
    y.backward(undefined, { retainGraph: false });
    expect(() => y.backward()).toThrow(/already freed/);
    expect((await values(x.grad!))[0]).toBeCloseTo(2 * Math.exp(2), 4);
  });

  test('multi-output ops route each output gradient (max values and indices)', async () => {
    const x = T.tensor([[1, 5, 2], [7, 0, 3]]).requiresGrad_();
    const { values: v, indices } = T.max(x, 1);
    expect(await values(indices)).toEqual([1, 0]);
    T.sum(T.mul(v, T.tensor([2, 3]))).backward();
    expect(await values(x.grad!)).toEqual([0, 2, 0, 3, 0, 0]);
  });

  test('second-order gradients with createGraph', async () => {
    const x = T.tensor([1.5]).requiresGrad_();
    const y = T.sum(T.pow(x, 3));
    y.backward(undefined, { createGraph: true });
    const g = x.grad!; // 3x^2, itself differentiable
    x.grad = null;
    T.sum(g).backward();
    expect((await values(x.grad!))[0]).toBeCloseTo(6 * 1.5, 4);
  });

  test('integer tensors cannot require grad', () => {
    expect(() => T.tensor(new Int32Array([1])).requiresGrad_()).toThrow(/only f32 tensors/);
  });
});

describe('memory', () => {
  test('scope frees intermediates and keeps what it returns', async () => {
    const before = T.memoryStats().liveBuffers;
    const kept = T.scope(() => {
      const a = T.ones([64]);
      const b = T.mul(a, 2);
      T.add(b, 1);
      return T.exp(b);
    });
    expect(T.memoryStats().liveBuffers).toBe(before + 1);
    expect((await values(kept))[0]).toBeCloseTo(Math.exp(2), 5);
    kept.dispose();
    expect(T.memoryStats().liveBuffers).toBe(before);
  });

  test('views share storage: the buffer goes back when the last handle is disposed', () => {
    const before = T.memoryStats().liveBuffers;
    const a = T.zeros([4, 5]);
    const t = a.transpose();
    const v = t.reshape([20]);
    expect(T.memoryStats().liveBuffers).toBe(before + 2); // reshape of a transposed view copies
    a.dispose();
    expect(T.memoryStats().liveBuffers).toBe(before + 2); // t still views a's storage
    t.dispose();
    v.dispose();
    expect(T.memoryStats().liveBuffers).toBe(before);
  });

  test('the graph keeps what backward needs even after scope disposes the originals', async () => {
    const x = T.tensor([0.3, 0.7]).requiresGrad_();
    const loss = T.scope(() => T.sum(T.mul(T.exp(x), T.sin(x))));
    loss.backward();
    const g = await values(x.grad!);
    [0.3, 0.7].forEach((v, i) => expect(g[i]).toBeCloseTo(Math.exp(v) * (Math.sin(v) + Math.cos(v)), 5));
  });

  test('backward frees every saved tensor: no buffers outlive the step', () => {
    const x = T.tensor([1, 2, 3]).requiresGrad_();
    const before = T.memoryStats().liveBuffers;
    T.scope(() => {
      T.sum(T.mul(T.exp(x), T.tanh(x))).backward();
    });
    // Only x.grad remains.
    expect(T.memoryStats().liveBuffers).toBe(before + 1);
  });

  test('leak tracking names the op that made each live tensor', () => {
    T.setLeakTracking(true);
    const t = T.exp(T.ones([2]));
    const live = T.liveTensors();
    expect(live.some((l) => l.op === 'exp' && l.id === t.id)).toBe(true);
    T.setLeakTracking(false);
  });

  test("a tensor larger than the device's largest buffer is refused with its shape and both sizes", () => {
    const max = T.engine().maxBufferBytes;
    const n = Math.ceil(max / 4) + 1024;
    expect(() => T.zeros([n])).toThrow(new RegExp(`full: tensor of shape \\[${n}\\] \\(f32\\) needs ${n * 4} bytes, more than the device's largest buffer \\(${max} bytes\\)`));
  });

  test('pool buckets never round a buffer that fits a binding past it, nor any past the largest buffer', () => {
    expect(T.bucketSize(1000, 1000)).toBe(1000);
    expect(T.bucketSize(1000, 900)).toBe(1024);
    expect(T.bucketSize((1 << 20) + 1, (1 << 20) + 64)).toBe((1 << 20) + 64);
    expect(T.bucketSize(5000, 4096)).toBe(8192);
    expect(T.bucketSize(5000, 4096, 6000)).toBe(6000);
  });

  test('pool buckets: powers of two, then eighths', () => {
    expect(T.bucketSize(1)).toBe(256);
    expect(T.bucketSize(1000)).toBe(1024);
    expect(T.bucketSize((1 << 20) + 1)).toBe((1 << 20) + (1 << 17));
  });
});

describe('random', () => {
  test('Threefry matches the Random123 known-answer vectors', () => {
    // Random123 kat_vectors, threefry2x32_20.
    expect(T.threefry2x32(0, 0, 0, 0)).toEqual([0x6b200159, 0x99ba4efe]);
    expect(T.threefry2x32(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff)).toEqual([0x1cb996fc, 0xbb002be7]);
    expect(T.threefry2x32(0x13198a2e, 0x03707344, 0x243f6a88, 0x85a308d3)).toEqual([0xc4923a9c, 0x483df7a0]);
  });

  test('the GPU generator gives the same numbers as the CPU copy, and repeats by seed', async () => {
    const g = new T.Generator(1234);
    const u = await values(T.rand([50], 0, 1, g));
    const again = await values(T.rand([50], 0, 1, new T.Generator(1234)));
    expect(u).toEqual(again);
    const cpu = Array.from({ length: 50 }, (_, i) => Math.fround(T.bitsToUnit(T.threefry2x32(1234, 0, i, 0)[0])));
    expect(u).toEqual(cpu);
    const next = await values(T.rand([50], 0, 1, g));
    expect(next).not.toEqual(u);
  });

  test('randn has the right moments', async () => {
    const x = await values(T.randn([20000], 1, 2, new T.Generator(5)));
    const m = x.reduce((a, b) => a + b, 0) / x.length;
    const v = x.reduce((a, b) => a + (b - m) ** 2, 0) / x.length;
    expect(m).toBeCloseTo(1, 1);
    expect(Math.sqrt(v)).toBeCloseTo(2, 1);
  });
});
