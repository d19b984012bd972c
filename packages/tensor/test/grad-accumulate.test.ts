// Leaf gradients of a parameter used many times, summed several per dispatch (autograd/accumulate.ts).
import { beforeAll, describe, expect, test } from 'vitest';
import * as T from '../src/index.ts';

beforeAll(async () => {
  await T.init();
});

/** loss = Σ_k Σ(p · c_k) for k uses of p: ∂loss/∂p = Σ_k c_k, one gradient per use. */
function lossOf(p: T.Tensor, cs: number[]): T.Tensor {
  return cs.map((c) => T.sum(T.mul(p, c))).reduce((a, b) => T.add(a, b));
}

describe('leaf gradient sums', () => {
  test('a parameter used 19 times gets the sum of its 19 gradients', async () => {
    const p = T.tensor([1, 2, 3, 4, 5]).requiresGrad_();
    const cs = Array.from({ length: 19 }, (_, k) => (k % 5) - 1.5);
    T.scope(() => lossOf(p, cs).backward());
    const want = cs.reduce((a, b) => a + b, 0);
    expect(Array.from(await p.grad!.data())).toEqual([want, want, want, want, want]);
    p.dispose();
  });

  test('the second gradients of many parameters are summed several per dispatch', async () => {
    const e = T.engine();
    // n parameters, each used by two passes: per parameter two mul gradients, then one sum into its .grad.
    const backwardDispatches = async (n: number) => {
      const ps = Array.from({ length: n }, (_, k) => T.tensor([k, 2, 3]).requiresGrad_());
      const pass = (c: number) => ps.map((p) => T.sum(T.mul(p, c))).reduce((a, b) => T.add(a, b));
      const loss = T.add(pass(2), pass(3));
      const d0 = e.stats().dispatches;
      T.scope(() => loss.backward());
      const d = e.stats().dispatches - d0;
      for (const [k, p] of ps.entries()) expect(Array.from(await p.grad!.data()), `parameter ${k}`).toEqual([5, 5, 5]);
      loss.dispose();
      ps.forEach((p) => p.dispose());
      return d;
    };
    const one = await backwardDispatches(1);
    const many = await backwardDispatches(17);
    // One sum per dispatch would be 3 per parameter; every adapter binds at least 8 storage buffers (4 sums).
    expect((many - one) / 16).toBeLessThan(2.6);
  });

  test('a .grad from an earlier backward is summed into a new tensor: a reference the caller kept is unchanged', async () => {
    const p = T.tensor([1, 2, 3]).requiresGrad_();
    T.scope(() => lossOf(p, [1, 2]).backward());
    const first = p.grad!;
    T.scope(() => lossOf(p, [10, 20]).backward());
    expect(p.grad).not.toBe(first);
    expect(Array.from(await p.grad!.data())).toEqual([33, 33, 33]);
    expect(first.disposed).toBe(true);
    p.dispose();
  });

  test('a post-accumulate hook reads the whole sum, before the backward ends', async () => {
    const p = T.tensor([1, 2]).requiresGrad_();
    const q = T.tensor([1, 1]).requiresGrad_();
    const seen: Promise<number[]>[] = [];
    p.registerPostAccumulateGradHook((t) => seen.push(t.grad!.data().then((d) => Array.from(d))));
    // p's uses end early in the backward (its branch is the last one recorded); q's run on after its hook.
    T.scope(() => T.add(T.sum(T.mul(q, 3)), lossOf(p, [1, 2, 3, 4, 5, 6, 7, 8, 9])).backward());
    expect(await Promise.all(seen)).toEqual([[45, 45]]);
    expect(Array.from(await q.grad!.data())).toEqual([3, 3]);
    p.dispose();
    q.dispose();
  });

  test('under createGraph the sum is an op of the graph: second derivatives flow through it', async () => {
    const p = T.tensor([2]).requiresGrad_();
    // loss = p³ + p² (two uses): dloss/dp = 3p² + 2p, d²loss/dp² = 6p + 2.
    const [g] = T.grad(T.add(T.sum(T.mul(T.mul(p, p), p)), T.sum(T.mul(p, p))), [p], undefined, { createGraph: true });
    expect(Array.from(await g!.data())).toEqual([16]);
    T.sum(g!).backward();
    expect(Array.from(await p.grad!.data())).toEqual([14]);
    p.dispose();
  });
});
