// Post-accumulate-grad hooks (PyTorch's register_post_accumulate_grad_hook): when they fire during backward,
// what .grad holds then, and which leaves they skip. Data parallelism starts a bucket's readback from them.
import { beforeAll, describe, expect, test } from 'vitest';
import * as T from '../src/index.ts';

beforeAll(async () => {
  await T.init();
});

const values = async (t: T.Tensor) => Array.from(await t.data());

/** Records, per firing, the leaf's name and a copy of its .grad at that moment (read after backward). */
function recorder(named: Record<string, T.Tensor>) {
  const fired: { name: string; grad: T.Tensor }[] = [];
  const handles = Object.entries(named).map(([name, t]) =>
    t.registerPostAccumulateGradHook((leaf) => {
      expect(leaf).toBe(t);
      fired.push({ name, grad: T.keep(T.noGrad(() => T.mul(leaf.grad!, 1))) });
    }),
  );
  return { fired, remove: () => handles.forEach((h) => h.remove()) };
}

describe('post-accumulate-grad hooks', () => {
  test('a leaf used by several ops fires once, after its last contribution, with the summed gradient', async () => {
    const x = T.tensor([0.5, -1, 2]).requiresGrad_();
    const w = T.tensor([3, 4, 5]).requiresGrad_();
    // x reaches the loss three ways (exp, x·x counts twice, x·w); the final gradient is their sum.
    const loss = T.sum(T.add(T.add(T.exp(x), T.mul(x, x)), T.mul(x, w)));
    const { fired } = recorder({ x, w });
    loss.backward();
    expect(fired.map((f) => f.name).sort()).toEqual(['w', 'x']);
    const gx = await values(fired.find((f) => f.name === 'x')!.grad);
    const want = [0.5, -1, 2].map((v, i) => Math.exp(v) + 2 * v + [3, 4, 5][i]);
    gx.forEach((g, i) => expect(g).toBeCloseTo(want[i], 4));
    expect(await values(fired.find((f) => f.name === 'w')!.grad)).toEqual([0.5, -1, 2]);
  });

  test('in a chain the last layer fires first, before backward reaches the first layer', () => {
    const x = T.tensor([1, 2, 3, 4], [1, 4]);
    const w1 = T.mul(T.ones([4, 4]), 0.1).requiresGrad_();
    const w2 = T.mul(T.ones([4, 4]), 0.2).requiresGrad_();
    const w3 = T.mul(T.ones([4, 2]), 0.3).requiresGrad_();
    const loss = T.sum(T.matmul(T.relu(T.matmul(T.relu(T.matmul(x, w1)), w2)), w3));
    const { fired } = recorder({ w1, w2, w3 });
    loss.backward();
    expect(fired.map((f) => f.name)).toEqual(['w3', 'w2', 'w1']);
  });

  test('it sees the sum with gradients already held from earlier passes, and fires on every pass', async () => {
    const x = T.tensor([1, 2]).requiresGrad_();
    const { fired } = recorder({ x });
    T.sum(T.mul(x, 3)).backward();
    T.sum(T.mul(x, x)).backward();
    expect(fired.length).toBe(2);
    expect(await values(fired[0].grad)).toEqual([3, 3]);
    expect(await values(fired[1].grad)).toEqual([5, 7]);
  });

  test('a leaf that got no gradient in a pass does not fire; a removed hook never does', () => {
    const a = T.tensor([1, 2]).requiresGrad_();
    const b = T.tensor([3, 4]).requiresGrad_();
    const c = T.tensor([5, 6]).requiresGrad_();
    // b reaches the loss only through a stop-gradient: no gradient flows back to it.
    const loss = T.sum(T.add(T.mul(a, T.detach(b)), T.mul(c, 2)));
    const { fired, remove } = recorder({ a, b });
    const cHook = c.registerPostAccumulateGradHook(() => fired.push({ name: 'c', grad: T.zeros([1]) }));
    cHook.remove();
    loss.backward();
    expect(fired.map((f) => f.name)).toEqual(['a']);
    remove();
    T.sum(T.mul(a, 2)).backward();
    expect(fired.length).toBe(1);
  });

  test('a leaf that is itself the root fires; a non-leaf refuses a hook', () => {
    const x = T.tensor([7]).requiresGrad_();
    const { fired } = recorder({ x });
    x.backward();
    expect(fired.map((f) => f.name)).toEqual(['x']);
    expect(() => T.mul(x, 2).registerPostAccumulateGradHook(() => {})).toThrow(/not a leaf/);
  });
});
