import { beforeAll, describe, expect, test } from 'vitest';
import * as T from '../src/index.ts';
import type { ParamUpdate } from '../src/optim/optimizer.ts';
import type { AdamWHyper } from '../src/optim/adamw.ts';

beforeAll(async () => {
  await T.init();
});

// Sizes across the slot count (4 or 8 per dispatch), some not multiples of the workgroup.
const SIZES = [[3, 5], [300], [1], [17, 17], [256], [257], [2, 3, 4], [1000], [9], [64, 3], [5]];

function tensors(seed: number): T.Tensor[] {
  return SIZES.map((s, i) => T.keep(T.randn(s, 0, 1, new T.Generator(seed * 100 + i))));
}

/** AdamW with one dispatch per parameter: the reference the multi-tensor kernel must match bit for bit. */
class PerParamAdamW extends T.AdamW {
  protected override updateAll(updates: readonly ParamUpdate<AdamWHyper>[]): void {
    for (const u of updates) this.update(u.param, u.grad, u.state, u.group);
  }
}

const bits = async (t: T.Tensor) => Array.from(new Uint32Array(((await t.data()) as Float32Array).buffer));

describe('multi-tensor optimizer kernels', () => {
  test('AdamW over 11 parameters in two groups equals one dispatch per parameter, bit for bit', async () => {
    const a = tensors(1);
    const b = tensors(1);
    const groups = (ps: T.Tensor[]) => [
      { params: ps.slice(0, 6), lr: 0.01, weightDecay: 0.05 },
      { params: ps.slice(6), lr: 0.1 },
    ];
    const multi = new T.AdamW(groups(a), { lr: 0.01 });
    const single = new PerParamAdamW(groups(b), { lr: 0.01 });
    for (let step = 0; step < 3; step++) {
      // The 3rd parameter has no gradient at step 1: it skips that step (its own step count).
      for (const [ps, opt] of [[a, multi], [b, single]] as const) {
        ps.forEach((p, i) => {
          if (step === 1 && i === 2) return;
          p.grad = T.keep(T.randn(p.shape, 0, 1, new T.Generator(1000 + step * 50 + i)));
        });
        opt.step();
        opt.zeroGrad();
      }
    }
    for (let i = 0; i < a.length; i++) expect(await bits(a[i])).toEqual(await bits(b[i]));
    const sa = multi.stateDict();
    const sb = single.stateDict();
    for (const k of Object.keys(sb.tensors)) expect(await bits(sa.tensors[k])).toEqual(await bits(sb.tensors[k]));
    for (const t of [...a, ...b, ...Object.values(sa.tensors), ...Object.values(sb.tensors)]) t.dispose();
    multi.dispose();
    single.dispose();
  });

  test('ema over 11 pairs (a strided source among them) equals ema pair by pair, bit for bit', async () => {
    const k1 = tensors(2);
    const k2 = tensors(2);
    const q = tensors(3);
    q[3] = T.keep(T.contiguous(T.transpose(T.randn([17, 17], 0, 1, new T.Generator(7)), 0, 1)));
    const qt = T.keep(T.transpose(q[3], 0, 1)); // a strided view as a source
    const src = q.map((t, i) => (i === 3 ? qt : t));
    T.ema(k1, src, 0.9);
    for (let i = 0; i < k2.length; i++) T.ema([k2[i]], [src[i]], 0.9);
    for (let i = 0; i < k1.length; i++) expect(await bits(k1[i])).toEqual(await bits(k2[i]));
    for (const t of [...k1, ...k2, ...q, qt]) t.dispose();
  });
});
