import { beforeAll, expect, test } from 'vitest';
import { init, tensor, add, mul, sum, exp, arange, randn, rand, scope } from '../src/index.ts';

beforeAll(async () => {
  await init();
});

test('smoke', async () => {
  const a = tensor([[1, 2, 3], [4, 5, 6]]);
  const b = tensor([10, 20, 30]);
  const c = add(a, b);
  expect(Array.from(await c.data())).toEqual([11, 22, 33, 14, 25, 36]);
  const s = sum(c, 1);
  expect(Array.from(await s.data())).toEqual([66, 75]);
  const t = a.transpose();
  expect(Array.from(await t.contiguous().data())).toEqual([1, 4, 2, 5, 3, 6]);
  expect(Array.from(await arange(5).data())).toEqual([0, 1, 2, 3, 4]);
  const x = tensor([1, 2, 3]).requiresGrad_();
  const y = sum(mul(exp(x), x));
  y.backward();
  const g = await x.grad!.data();
  const want = [1, 2, 3].map((v) => Math.exp(v) * (1 + v));
  g.forEach((v, i) => expect(v).toBeCloseTo(want[i], 3));
  const r = await randn([10000]).data();
  const m = r.reduce((p, q) => p + q, 0) / r.length;
  expect(Math.abs(m)).toBeLessThan(0.05);
  const u = await rand([1000]).data();
  expect(Math.min(...u)).toBeGreaterThanOrEqual(0);
  scope(() => add(a, 1));
});
