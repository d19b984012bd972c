import { beforeAll, describe, expect, test } from 'vitest';
import * as T from '../src/index.ts';

beforeAll(async () => {
  await T.init();
});

describe('dropout', () => {
  const shape = [7, 37];
  const n = 7 * 37;
  const expectedMask = (seed: number, stream: number, p: number) =>
    Array.from({ length: n }, (_, i) => T.bitsToUnit(T.threefry2x32(seed, 0, i, stream)[0]) >= Math.fround(p));

  test('training: masks with the seeded generator, scales by 1/(1-p), backward uses the same mask', async () => {
    const p = 0.3;
    const x = T.tensor(Float32Array.from({ length: n }, (_, i) => 1 + (i % 5)), shape).requiresGrad_();
    const gen = new T.Generator(1234);
    const y = T.dropout(x, p, true, gen);
    const mask = expectedMask(1234, 0, p);
    const want = mask.map((k, i) => (k ? Math.fround((1 + (i % 5)) * Math.fround(1 / (1 - p))) : 0));
    const got = Array.from(await y.data());
    got.forEach((v, i) => expect(v).toBeCloseTo(want[i], 5));
    const kept = mask.filter(Boolean).length / n;
    expect(kept).toBeGreaterThan(0.6);
    expect(kept).toBeLessThan(0.8);
    T.scope(() => T.sum(T.mul(y, 2)).backward());
    const gx = Array.from(await x.grad!.data());
    gx.forEach((v, i) => expect(v).toBeCloseTo(mask[i] ? 2 / (1 - p) : 0, 5));
    // The next call draws a fresh mask.
    const y2 = T.dropout(x, p, true, gen);
    const mask2 = expectedMask(1234, 1, p);
    expect(Array.from(await y2.data()).map((v) => v !== 0)).toEqual(mask2);
    for (const t of [x, y, y2, x.grad!]) t.dispose();
  });

  test('a strided input is masked by output position', async () => {
    const base = T.tensor(Float32Array.from({ length: n }, (_, i) => i + 1), [37, 7]);
    const y = T.scope(() => T.dropout(T.transpose(base), 0.5, true, new T.Generator(9)));
    const mask = expectedMask(9, 0, 0.5);
    const got = Array.from(await y.data());
    got.forEach((v, i) => {
      const [r, c] = [Math.floor(i / 37), i % 37];
      expect(v).toBe(mask[i] ? (c * 7 + r + 1) * 2 : 0);
    });
    base.dispose();
    y.dispose();
  });

  test('bad p and integer input are rejected', () => {
    T.scope(() => {
      expect(() => T.dropout(T.zeros([3]), 1.5)).toThrow(/dropout: p must be in \[0, 1\], got 1.5/);
      expect(() => T.dropout(T.zeros([3], 'i32'), 0.5)).toThrow(/dropout: needs f32.*\[3\]/);
    });
  });

  test('eval mode and p = 0 are the identity; p = 1 zeroes', async () => {
    const x = T.tensor([1, -2, 3]);
    for (const y of [T.dropout(x, 0.5, false), T.dropout(x, 0, true)]) {
      expect(Array.from(await y.data())).toEqual([1, -2, 3]);
      y.dispose();
    }
    const z = T.dropout(x, 1, true);
    expect(Array.from(await z.data())).toEqual([0, 0, 0]);
    z.dispose();
    x.dispose();
  });
});
