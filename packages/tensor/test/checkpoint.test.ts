// grad() (torch.autograd.grad) and checkpoint() (torch.utils.checkpoint): the same gradients as plain backward,
// to the bit (the rerun launches the same kernels), fewer live buffers after the forward, and hooks that still
// fire once per pass.
import { beforeAll, describe, expect, test } from 'vitest';
import * as T from '../src/index.ts';

beforeAll(async () => {
  await T.init();
});

const values = async (t: T.Tensor) => Array.from(await t.data());

/** A two-layer MLP segment over (rows, 6) with parameters of shapes not multiple of any tile. */
function mlp(seed: number) {
  const gen = new T.Generator(seed);
  const w1 = T.randn([6, 13], 0, 1, gen).requiresGrad_();
  const b1 = T.randn([13], 0, 1, gen).requiresGrad_();
  const w2 = T.randn([13, 6], 0, 1, gen).requiresGrad_();
  const params = [w1, b1, w2];
  const fn = (x: T.Tensor) => T.scope(() => T.add(x, T.matmul(T.gelu(T.add(T.matmul(x, w1), b1)), w2)));
  return { params, fn };
}

function input(seed: number) {
  return T.randn([5, 6], 0, 1, new T.Generator(seed)).requiresGrad_();
}

describe('grad', () => {
  test('returns what backward would accumulate, and changes no .grad', async () => {
    const { params, fn } = mlp(1);
    const x = input(2);
    const got = T.grad(T.sum(T.mul(fn(x), fn(x))), [x, ...params]);
    expect(x.grad).toBeNull();
    for (const p of params) expect(p.grad).toBeNull();
    T.sum(T.mul(fn(x), fn(x))).backward();
    for (const [i, t] of [x, ...params].entries()) expect(await values(got[i]!)).toEqual(await values(t.grad!));
  });

  test('null for an input no gradient reaches; a non-leaf input is refused', () => {
    const a = T.tensor([1, 2]).requiresGrad_();
    const b = T.tensor([3, 4]).requiresGrad_();
    const [ga, gb] = T.grad(T.sum(T.mul(a, 2)), [a, b]);
    expect(ga).not.toBeNull();
    expect(gb).toBeNull();
    expect(() => T.grad(T.sum(T.mul(a, 2)), [T.mul(a, 1)])).toThrow(/inputs must be leaves/);
  });
});

describe('checkpoint', () => {
  test('three segments in a chain: the same loss and gradients as without, to the bit', async () => {
    const segs = [mlp(3), mlp(4), mlp(5)];
    const run = (ckpt: boolean) => {
      let t = input(6);
      const x = t;
      for (const s of segs) t = ckpt ? T.checkpoint(s.fn, [t], s.params) : s.fn(t);
      const loss = T.sum(T.mul(t, t));
      loss.backward();
      return { x, loss };
    };
    const plain = run(false);
    const plainGrads = await Promise.all(segs.flatMap((s) => s.params.map((p) => values(p.grad!))));
    const plainX = await values(plain.x.grad!);
    // NaNs would compare equal below: the reference must be finite and not all zero.
    expect([...plainGrads.flat(), ...plainX].every(Number.isFinite)).toBe(true);
    expect(plainX.some((v) => v !== 0)).toBe(true);
    for (const s of segs) for (const p of s.params) (p.grad?.dispose(), (p.grad = null));
    const ck = run(true);
    expect(await ck.loss.item()).toBe(await plain.loss.item());
    expect(await values(ck.x.grad!)).toEqual(plainX);
    const ckGrads = await Promise.all(segs.flatMap((s) => s.params.map((p) => values(p.grad!))));
    expect(ckGrads).toEqual(plainGrads);
  });

  test('a segment applied twice: gradients summed, its parameters hooked once per pass after both uses', async () => {
    const seg = mlp(7);
    const grads = async (ckpt: boolean) => {
      for (const p of seg.params) (p.grad?.dispose(), (p.grad = null));
      const x = input(8);
      const f = (t: T.Tensor) => (ckpt ? T.checkpoint(seg.fn, [t], seg.params) : seg.fn(t));
      const fired: number[] = [];
      const hooks = seg.params.map((p, i) => p.registerPostAccumulateGradHook(() => fired.push(i)));
      T.sum(f(f(x))).backward();
      hooks.forEach((h) => h.remove());
      expect(fired.sort()).toEqual([0, 1, 2]);
      return Promise.all(seg.params.map((p) => values(p.grad!)));
    };
    expect(await grads(true)).toEqual(await grads(false));
  });

  test('keeps fewer tensors alive between forward and backward', () => {
    const segs = [mlp(9), mlp(10), mlp(11), mlp(12)];
    const liveAfterForward = (ckpt: boolean) => {
      T.setLeakTracking(true);
      try {
        let t = input(13);
        for (const s of segs) t = ckpt ? T.checkpoint(s.fn, [t], s.params) : s.fn(t);
        const n = T.liveTensors().length;
        T.sum(t).backward();
        return n;
      } finally {
        T.setLeakTracking(false);
      }
    };
    const plain = liveAfterForward(false);
    const ck = liveAfterForward(true);
    expect(ck).toBeLessThan(plain);
  });

  test('lowers the peak GPU memory of a forward and backward (resetPeakMemory measures one piece of work)', async () => {
    // Wide enough that activations, not parameters, dominate: 512 rows through 4 segments.
    const segs = [mlp(16), mlp(17), mlp(18), mlp(19)];
    const peak = async (ckpt: boolean) => {
      const x = T.randn([512, 6], 0, 1, new T.Generator(20)).requiresGrad_();
      await T.engine().sync();
      T.engine().resetPeakMemory();
      const base = T.engine().stats().liveBytes;
      let t = x;
      for (const s of segs) t = ckpt ? T.checkpoint(s.fn, [t], s.params) : s.fn(t);
      T.sum(t).backward();
      const grown = T.engine().stats().peakLiveBytes - base;
      for (const s of segs) for (const p of s.params) (p.grad?.dispose(), (p.grad = null));
      return grown;
    };
    const plain = await peak(false);
    const ck = await peak(true);
    expect(ck).toBeGreaterThan(0);
    expect(ck).toBeLessThan(0.75 * plain);
  });

  test('without grad it is the plain call; a non-leaf parameter is refused', async () => {
    const { params, fn } = mlp(14);
    const x = input(15);
    const a = T.noGrad(() => T.checkpoint(fn, [x], params));
    expect(a.requiresGrad).toBe(false);
    expect(await values(a)).toEqual(await values(T.noGrad(() => fn(x))));
    expect(() => T.checkpoint(fn, [x], [T.mul(params[0], 1)])).toThrow(/params must be leaves/);
  });
});
