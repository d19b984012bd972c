import { beforeAll, describe, expect, test } from 'vitest';
import * as T from '../src/index.ts';
import { expectClose, type FixtureTensor, loadJson, toTensor } from '../../../test/support/fixtures.ts';

beforeAll(async () => {
  await T.init();
});

const PARAM_TOL = { rtol: 1e-5, atol: 1e-7 };
const LR_TOL = { rtol: 1e-12, atol: 0 };

interface GroupSpec {
  params: string[];
  base_lr: number;
  weight_decay: number;
}
interface AdamCase {
  name: string;
  params: { groups: GroupSpec[]; betas: [number, number]; eps: number; warmup_iter: number; max_iter: number; warmup_ratio: number; power: number; num_steps: number };
  inputs: { initial_params: Record<string, FixtureTensor> };
  steps: { step: number; lr: number[]; grads: Record<string, FixtureTensor>; params_after: Record<string, FixtureTensor> }[];
  final_state: Record<string, { exp_avg: FixtureTensor; exp_avg_sq: FixtureTensor; step: number }>;
}
interface ScheduleCase {
  name: string;
  params: { base_lrs: number[]; warmup_iter: number; max_iter: number; warmup_ratio: number; power: number };
  outputs: { schedule: { global_step: number; lr: number[] }[] };
}
interface EmaCase {
  name: string;
  params: { momentum: number };
  inputs: { k_initial: FixtureTensor; q_per_step: FixtureTensor[] };
  outputs: { k_after_each_step: FixtureTensor[] };
}

// Cases are told apart by what they hold (steps, a schedule table, an EMA trajectory), not by name.
const optimCases = () => loadJson<{ cases: Record<string, unknown>[] }>('optim/optim.json').cases;
const adamCases = () => optimCases().filter((c) => 'steps' in c) as unknown as AdamCase[];
const scheduleCases = () => optimCases().filter((c) => 'schedule' in ((c.outputs as object | undefined) ?? {})) as unknown as ScheduleCase[];
const emaCases = () => optimCases().filter((c) => 'k_after_each_step' in ((c.outputs as object | undefined) ?? {})) as unknown as EmaCase[];
/** The AdamW case with the most steps and at least two groups (the state tests need both). */
const longestAdam = () => {
  const cs = adamCases().filter((c) => c.params.groups.length >= 2);
  if (!cs.length) throw new Error('optim.json has no AdamW case with two parameter groups');
  return cs.reduce((a, b) => (b.steps.length > a.steps.length ? b : a));
};

function polyOf(c: AdamCase): T.PolyWarmupConfig {
  return { warmupIter: c.params.warmup_iter, maxIter: c.params.max_iter, warmupRatio: c.params.warmup_ratio, power: c.params.power };
}

function buildAdam(c: AdamCase) {
  const named: Record<string, T.Tensor> = {};
  for (const [k, v] of Object.entries(c.inputs.initial_params)) named[k] = T.keep(toTensor(v).requiresGrad_());
  const opt = new T.PolyWarmupAdamW(
    c.params.groups.map((g) => ({ params: g.params, lr: g.base_lr, weightDecay: g.weight_decay })),
    { betas: c.params.betas, eps: c.params.eps },
    polyOf(c),
    { named },
  );
  const feed = (s: AdamCase['steps'][number]) => {
    for (const [k, g] of Object.entries(s.grads)) named[k].grad = T.keep(toTensor(g));
  };
  const dispose = () => {
    opt.zeroGrad();
    opt.dispose();
    for (const t of Object.values(named)) t.dispose();
  };
  return { named, opt, feed, dispose };
}

describe('PolyWarmupAdamW against optim.json', () => {
  test('fixture has AdamW, schedule and EMA cases', () => {
    expect(adamCases().length).toBeGreaterThan(0);
    expect(scheduleCases().length).toBeGreaterThan(0);
    expect(emaCases().length).toBeGreaterThan(0);
  });

  for (const c of adamCases()) {
    const name = c.name;
    test(`${name}: lr and parameters after every step, final state`, async () => {
      const { named, opt, feed, dispose } = buildAdam(c);
      try {
        for (const s of c.steps) {
          feed(s);
          opt.step();
          expectClose(opt.groups.map((g) => g.lr), s.lr, LR_TOL, `${name} step ${s.step} lr`);
          for (const [k, want] of Object.entries(s.params_after)) {
            expectClose(await named[k].data(), want.data, PARAM_TOL, `${name} step ${s.step} ${k}`);
          }
          opt.zeroGrad();
        }
        const sd = opt.stateDict();
        const index = Object.fromEntries(opt.groups.flatMap((g) => g.names).map((n, i) => [n, i]));
        for (const [k, want] of Object.entries(c.final_state)) {
          const i = index[k];
          expect(sd.meta.steps[i]).toBe(want.step);
          expectClose(await sd.tensors[`state.${i}.exp_avg`].data(), want.exp_avg.data, PARAM_TOL, `${name} exp_avg ${k}`);
          expectClose(await sd.tensors[`state.${i}.exp_avg_sq`].data(), want.exp_avg_sq.data, PARAM_TOL, `${name} exp_avg_sq ${k}`);
        }
        for (const t of Object.values(sd.tensors)) t.dispose();
      } finally {
        dispose();
      }
    });
  }

  const scheduleOf = (c: ScheduleCase) => ({ warmupIter: c.params.warmup_iter, maxIter: c.params.max_iter, warmupRatio: c.params.warmup_ratio, power: c.params.power });
  for (const c of scheduleCases()) {
    test(`${c.name}: float64 lrs of every listed step`, () => {
      const cfg = scheduleOf(c);
      for (const row of c.outputs.schedule) {
        const got = c.params.base_lrs.map((b) => T.polyWarmupLr(row.global_step, b, cfg));
        expectClose(got, row.lr, LR_TOL, `lr at ${row.global_step}`);
      }
    });
  }

  test('step(): multi-tensor dispatches (4 parameters each where 16+ storage bindings), no readback, no new pipeline after the first step', async () => {
    const c = longestAdam();
    const { opt, feed, dispose } = buildAdam(c);
    try {
      feed(c.steps[0]);
      opt.step();
      await T.engine().sync();
      feed(c.steps[1]);
      const before = T.engine().stats();
      opt.step();
      const after = T.engine().stats();
      const slots = Math.min(8, Math.floor(T.engine().limits.maxStorageBuffersPerShaderStage / 4));
      expect(slots).toBeGreaterThan(1);
      expect(after.dispatches - before.dispatches).toBe(Math.ceil(opt.parameters.length / slots));
      expect(after.readbacks).toBe(before.readbacks);
      expect(after.pipelines).toBe(before.pipelines);
    } finally {
      dispose();
    }
  });
});

describe('optimizer state', () => {
  test('save after k steps, load into a fresh optimizer, continue: equals the uninterrupted run', async () => {
    const c = longestAdam();
    const k = Math.floor(c.steps.length / 2);
    const a = buildAdam(c);
    const b = buildAdam(c);
    try {
      for (const s of c.steps.slice(0, k)) {
        a.feed(s);
        a.opt.step();
        a.opt.zeroGrad();
      }
      const sd = a.opt.stateDict();
      // b starts from a's parameters and state, then both run the remaining steps.
      for (const [n, t] of Object.entries(a.named)) T.copyInto(b.named[n], t);
      // meta goes through JSON, as it would in a checkpoint file.
      b.opt.loadStateDict({ tensors: sd.tensors, meta: JSON.parse(JSON.stringify(sd.meta)) });
      for (const t of Object.values(sd.tensors)) t.dispose(); // the optimizer copied them
      expect(b.opt.globalStep).toBe(k);
      expect(b.opt.groups.map((g) => g.lr)).toEqual(a.opt.groups.map((g) => g.lr));
      for (const s of c.steps.slice(k)) {
        for (const o of [a, b]) {
          o.feed(s);
          o.opt.step();
          o.opt.zeroGrad();
        }
      }
      for (const n of Object.keys(a.named)) {
        expect(Array.from(await b.named[n].data())).toEqual(Array.from(await a.named[n].data()));
        const want = c.steps[c.steps.length - 1].params_after[n];
        expectClose(await b.named[n].data(), want.data, PARAM_TOL, `resumed ${n}`);
      }
    } finally {
      a.dispose();
      b.dispose();
    }
  });

  test('loadStateDict rejects a state of another shape, group layout or type', () => {
    const c = longestAdam();
    const a = buildAdam(c);
    try {
      a.feed(c.steps[0]);
      a.opt.step();
      const sd = a.opt.stateDict();
      const first = a.opt.groups[0].names[0];
      const shape = a.named[first].shape;
      const wrong = [shape.reduce((x, y) => x * y) + 1];
      const wrongShape = { tensors: { ...sd.tensors, 'state.0.exp_avg': T.keep(T.zeros(wrong)) }, meta: sd.meta };
      expect(() => a.opt.loadStateDict(wrongShape)).toThrow(`state.0.exp_avg (${first}) is [${wrong.join(', ')}], parameter is [${shape.join(', ')}]`);
      const beyond = `state.${a.opt.parameters.length}.exp_avg`;
      const extra = { tensors: { ...sd.tensors, [beyond]: sd.tensors['state.0.exp_avg'] }, meta: sd.meta };
      expect(() => a.opt.loadStateDict(extra)).toThrow(`unexpected state tensors: ${beyond}`);
      const fewerGroups = { tensors: sd.tensors, meta: { ...sd.meta, groups: sd.meta.groups.slice(1) } };
      const nGroups = a.opt.groups.length;
      expect(() => a.opt.loadStateDict(fewerGroups)).toThrow(`${nGroups - 1} parameter groups, optimizer ${nGroups}`);
      expect(() => a.opt.loadStateDict({ tensors: sd.tensors, meta: { ...sd.meta, type: 'SGD' } })).toThrow(/state is for SGD/);
      wrongShape.tensors['state.0.exp_avg'].dispose();
      for (const t of Object.values(sd.tensors)) t.dispose();
    } finally {
      a.dispose();
    }
  });

  test('parameter groups naming unknown or duplicate parameters are errors', () => {
    const w = T.keep(T.zeros([3]).requiresGrad_());
    const v = T.keep(T.zeros([2]).requiresGrad_());
    const named = { 'layer.weight': w, 'layer.bias': v };
    try {
      expect(() => new T.AdamW([{ params: ['layer.weight', 'layer.wieght'] }], {}, { named })).toThrow(
        /group 0 names unknown parameter 'layer\.wieght' \(known: layer\.weight, layer\.bias\)/,
      );
      expect(() => new T.AdamW([{ params: ['layer.weight'] }, { params: [w] }], {}, { named })).toThrow(
        /parameter layer\.weight appears twice \(group 0 and group 1\)/,
      );
      expect(() => new T.SGD([{ params: ['x'] }])).toThrow(/no named parameters were given/);
      const nonLeaf = T.mul(w, 2);
      expect(() => new T.SGD([nonLeaf])).toThrow(/not a leaf/);
      nonLeaf.dispose();
    } finally {
      w.dispose();
      v.dispose();
    }
  });

  test('zeroGrad disposes gradients; parameters without a gradient are not touched', async () => {
    const w = T.keep(T.tensor([1, 2, 3]).requiresGrad_());
    const u = T.keep(T.tensor([4, 5]).requiresGrad_());
    const opt = new T.AdamW([w, u], { lr: 0.1, weightDecay: 0.5 });
    try {
      T.scope(() => T.sum(T.mul(w, w)).backward());
      const g = w.grad!;
      opt.step();
      expect(Array.from(await u.data())).toEqual([4, 5]); // no grad: no decay either
      expect(Array.from(await w.data())).not.toEqual([1, 2, 3]);
      opt.zeroGrad();
      expect(w.grad).toBeNull();
      expect(g.disposed).toBe(true);
    } finally {
      opt.dispose();
      w.dispose();
      u.dispose();
    }
  });

  test('checkFinite names the first parameter whose gradient is NaN or Inf', async () => {
    const a = T.keep(T.zeros([300]).requiresGrad_());
    const b = T.keep(T.zeros([4]).requiresGrad_());
    const c = T.keep(T.zeros([5]).requiresGrad_());
    const named = { a, b, c };
    const opt = new T.SGD([{ params: ['a', 'b', 'c'] }], { lr: 1 }, { named, checkFinite: true });
    try {
      a.grad = T.keep(T.ones([300]));
      b.grad = T.keep(T.tensor([0, 1, Infinity, 2]));
      c.grad = T.keep(T.tensor([NaN, 0, 0, 0, 0]));
      const before = T.engine().stats().readbacks;
      expect(await opt.findNonFiniteGrad()).toBe('b');
      expect(T.engine().stats().readbacks - before).toBe(1);
      await expect(opt.checkGrads()).rejects.toThrow(/non-finite gradient in b at step 0/);
      b.grad.dispose();
      b.grad = null;
      expect(await opt.findNonFiniteGrad()).toBe('c');
      c.grad.dispose();
      c.grad = T.keep(T.tensor([1, 2, 3, 4, -1e30]));
      await opt.checkGrads();
      opt.checkFinite = false;
      c.grad.dispose();
      c.grad = T.keep(T.tensor([NaN, 0, 0, 0, 0]));
      const r = T.engine().stats().readbacks;
      await opt.checkGrads(); // disabled: no GPU work
      expect(T.engine().stats().readbacks).toBe(r);
    } finally {
      opt.zeroGrad();
      for (const t of [a, b, c]) t.dispose();
    }
  });
});

/** torch.optim.SGD in float32 on the CPU, one rounding per PyTorch op. */
function sgdReference(p0: Float32Array, grads: Float32Array[], h: T.SGDHyper): Float32Array[] {
  const f = Math.fround;
  const p = Float32Array.from(p0);
  let buf: Float32Array | null = null;
  const out: Float32Array[] = [];
  for (const g of grads) {
    const d = new Float32Array(p.length);
    for (let i = 0; i < p.length; i++) d[i] = f(g[i] + f(f(h.weightDecay) * p[i]));
    if (h.momentum !== 0) {
      if (!buf) buf = Float32Array.from(d);
      else for (let i = 0; i < p.length; i++) buf[i] = f(f(buf[i] * f(h.momentum)) + f(f(1 - h.dampening) * d[i]));
      for (let i = 0; i < p.length; i++) d[i] = h.nesterov ? f(d[i] + f(f(h.momentum) * buf[i])) : buf[i];
    }
    for (let i = 0; i < p.length; i++) p[i] = f(p[i] + f(f(-h.lr) * d[i]));
    out.push(Float32Array.from(p));
  }
  return out;
}

/** torch.optim.AdamW's single-tensor step in float32, float64 scalars rounded as PyTorch rounds them. */
function adamwReference(p0: Float32Array, grads: Float32Array[], lr: number, wd: number, b1: number, b2: number, eps: number): Float32Array {
  const f = Math.fround;
  const p = Float32Array.from(p0);
  const m = new Float32Array(p.length);
  const v = new Float32Array(p.length);
  grads.forEach((g, s) => {
    const t = s + 1;
    const step = f(lr / (1 - b1 ** t));
    const bc2 = f(Math.sqrt(1 - b2 ** t));
    for (let i = 0; i < p.length; i++) {
      p[i] = f(p[i] * f(1 - lr * wd));
      m[i] = f(m[i] + f(f(1 - b1) * f(g[i] - m[i])));
      v[i] = f(f(v[i] * f(b2)) + f(f(f(1 - b2) * g[i]) * g[i]));
      const denom = f(f(f(Math.sqrt(v[i])) / bc2) + f(eps));
      p[i] = f(p[i] + f(-step * f(m[i] / denom)));
    }
  });
  return p;
}

describe('AdamW against a CPU reference', () => {
  // Gradients near eps make the placement of eps (after the bias-corrected sqrt) visible.
  for (const scale of [1e-8, 1, 1e3]) {
    test(`gradient scale ${scale}`, async () => {
      const n = 300;
      const gen = new T.Generator(5);
      const p = T.keep(T.randn([n], 0, 1, gen).requiresGrad_());
      const p0 = (await p.data()) as Float32Array;
      const grads: Float32Array[] = [];
      for (let s = 0; s < 5; s++) grads.push((await T.scope(() => T.randn([n], 0, scale, gen)).data()) as Float32Array);
      const opt = new T.AdamW([p], { lr: 0.01, weightDecay: 0.1, betas: [0.8, 0.99], eps: 1e-8 });
      try {
        for (const g of grads) {
          p.grad = T.keep(T.tensor(g));
          opt.step();
          opt.zeroGrad();
        }
        expectClose(await p.data(), adamwReference(p0, grads, 0.01, 0.1, 0.8, 0.99, 1e-8), PARAM_TOL, `scale ${scale}`);
      } finally {
        opt.dispose();
        p.dispose();
      }
    });
  }
});

describe('SGD against a CPU reference', () => {
  const variants: Partial<T.SGDHyper>[] = [
    { lr: 0.1 },
    { lr: 0.05, weightDecay: 0.01 },
    { lr: 0.05, momentum: 0.9 },
    { lr: 0.05, momentum: 0.9, dampening: 0.3, weightDecay: 1e-3 },
    { lr: 0.02, momentum: 0.8, nesterov: true, weightDecay: 0.05 },
  ];
  for (const v of variants) {
    test(JSON.stringify(v), async () => {
      const h = { ...T.SGD_DEFAULTS, ...v };
      const n = 517; // not a multiple of the workgroup size
      const gen = new T.Generator(7);
      const p = T.keep(T.randn([n], 0, 1, gen).requiresGrad_());
      const p0 = (await p.data()) as Float32Array;
      const grads: Float32Array[] = [];
      for (let s = 0; s < 4; s++) grads.push((await T.scope(() => T.randn([n], 0, 1, gen)).data()) as Float32Array);
      const want = sgdReference(p0, grads, h);
      const opt = new T.SGD([p], v);
      try {
        for (let s = 0; s < grads.length; s++) {
          p.grad = T.keep(T.tensor(grads[s]));
          opt.step();
          opt.zeroGrad();
          expectClose(await p.data(), want[s], { rtol: 1e-6, atol: 1e-7 }, `step ${s}`);
        }
      } finally {
        opt.dispose();
        p.dispose();
      }
    });
  }

  test('a strided (transposed) gradient updates as its dense copy', async () => {
    const g = T.keep(T.randn([3, 40], 0, 1, new T.Generator(8)));
    const a = T.keep(T.zeros([40, 3]).requiresGrad_());
    const b = T.keep(T.zeros([40, 3]).requiresGrad_());
    const oa = new T.AdamW([a], { lr: 0.1 });
    const ob = new T.AdamW([b], { lr: 0.1 });
    try {
      a.grad = T.keep(T.scope(() => T.transpose(g)));
      expect(a.grad.isContiguous).toBe(false);
      b.grad = T.keep(T.scope(() => T.contiguous(T.transpose(g))));
      oa.step();
      ob.step();
      const got = Array.from(await a.data());
      expect(got).toEqual(Array.from(await b.data()));
      expect(got.some((v) => v !== 0)).toBe(true);
    } finally {
      for (const o of [oa, ob]) {
        o.zeroGrad();
        o.dispose();
      }
      for (const t of [g, a, b]) t.dispose();
    }
  });

  test('an SGD state round trip resumes the momentum exactly', async () => {
    const gen = new T.Generator(3);
    const mk = () => T.keep(T.randn([33], 0, 1, new T.Generator(11)).requiresGrad_());
    const a = mk();
    const b = mk();
    const grads = [0, 1, 2, 3].map(() => T.keep(T.randn([33], 0, 1, gen)));
    const oa = new T.SGD([a], { lr: 0.1, momentum: 0.9, nesterov: true });
    const ob = new T.SGD([b], { lr: 0.5, momentum: 0.1 });
    try {
      for (const g of grads.slice(0, 2)) {
        a.grad = T.keep(g.clone());
        oa.step();
        oa.zeroGrad();
      }
      T.copyInto(b, a);
      const sd = oa.stateDict();
      ob.loadStateDict(sd);
      for (const t of Object.values(sd.tensors)) t.dispose();
      expect(ob.groups[0].nesterov).toBe(true);
      for (const g of grads.slice(2)) {
        for (const [p, o] of [[a, oa], [b, ob]] as const) {
          p.grad = T.keep(g.clone());
          o.step();
          o.zeroGrad();
        }
      }
      expect(Array.from(await b.data())).toEqual(Array.from(await a.data()));
    } finally {
      oa.dispose();
      ob.dispose();
      for (const t of [a, b, ...grads]) t.dispose();
    }
  });
});

describe('EMA', () => {
  for (const c of emaCases()) test(`${c.name}: k after each step`, async () => {
    const k = T.keep(toTensor(c.inputs.k_initial));
    try {
      for (let s = 0; s < c.inputs.q_per_step.length; s++) {
        const q = toTensor(c.inputs.q_per_step[s]);
        T.ema([k], [q], c.params.momentum);
        q.dispose();
        expectClose(await k.data(), c.outputs.k_after_each_step[s].data, PARAM_TOL, `ema step ${s}`);
      }
    } finally {
      k.dispose();
    }
  });

  test('named sets pair by name; mismatches are errors', async () => {
    const k = { a: T.keep(T.zeros([2])), b: T.keep(T.ones([3])) };
    const q = { b: T.keep(T.zeros([3])), a: T.keep(T.tensor([10, 20])) };
    try {
      T.ema(k, q, 0.5);
      expect(Array.from(await k.a.data())).toEqual([5, 10]);
      expect(Array.from(await k.b.data())).toEqual([0.5, 0.5, 0.5]);
      expect(() => T.ema({ a: k.a }, { z: q.a }, 0.5)).toThrow(/source has no tensor named a/);
      expect(() => T.ema([k.a], [q.b], 0.5)).toThrow(/target \[2\] and source \[3\] differ/);
      expect(() => T.ema([k.a], [k.a, q.a], 0.5)).toThrow(/target has 1 tensors, source 2/);
    } finally {
      for (const t of [...Object.values(k), ...Object.values(q)]) t.dispose();
    }
  });
});

describe('schedules', () => {
  test('poly warmup keeps the last lr past maxIter, as the stateful optimizer does', () => {
    const cfg = { warmupIter: 3, maxIter: 8, warmupRatio: 1e-6, power: 0.9 };
    expect(T.polyWarmupMultiplier(8, cfg)).toBeNull();
    expect(T.polyWarmupLr(11, 0.1, cfg)).toBe(0.1 * (1 - 7 / 8) ** 0.9);
  });

  test('cosine with warmup: ramp, peak, half-way, floor', () => {
    const cfg = { warmupIter: 10, maxIter: 110, warmupRatio: 0.1, minRatio: 0.01 };
    expect(T.cosineWarmupMultiplier(0, cfg)).toBeCloseTo(0.1, 15);
    expect(T.cosineWarmupMultiplier(5, cfg)).toBeCloseTo(0.55, 15);
    expect(T.cosineWarmupMultiplier(10, cfg)).toBe(1);
    expect(T.cosineWarmupMultiplier(60, cfg)).toBeCloseTo(0.505, 15);
    expect(T.cosineWarmupMultiplier(110, cfg)).toBe(0.01);
    expect(T.cosineWarmupMultiplier(500, cfg)).toBe(0.01);
    expect(() => T.cosineWarmupSchedule({ warmupIter: 5, maxIter: 5 })).toThrow(/must exceed/);
  });

  test('a schedule drives every group from its initial lr before each step', () => {
    const w = T.keep(T.zeros([2]).requiresGrad_());
    const u = T.keep(T.zeros([2]).requiresGrad_());
    const cfg = { warmupIter: 2, maxIter: 6 };
    const opt = new T.SGD([{ params: [w], lr: 1 }, { params: [u], lr: 10 }], {}, { schedule: T.cosineWarmupSchedule(cfg) });
    try {
      const seen: number[][] = [];
      for (let s = 0; s < 4; s++) {
        opt.step();
        seen.push(opt.groups.map((g) => g.lr));
      }
      const want = [0, 1, 2, 3].map((s) => [1, 10].map((b) => b * T.cosineWarmupMultiplier(s, cfg)));
      expect(seen).toEqual(want);
    } finally {
      opt.dispose();
      w.dispose();
      u.dispose();
    }
  });
});

describe('memory', () => {
  test('steps, state round trips, EMA and the finite check leave no live tensors once disposed', async () => {
    T.setLeakTracking(true);
    try {
      const w = T.keep(T.randn([40, 3]).requiresGrad_());
      const t = T.keep(T.zeros([40, 3]));
      const x = T.keep(T.randn([5, 40]));
      const opt = new T.AdamW([w], { lr: 0.01 }, { checkFinite: true });
      const sgd = new T.SGD([t], { lr: 0.1, momentum: 0.9 });
      for (let s = 0; s < 3; s++) {
        // A transposed gradient takes the dense-copy path.
        T.scope(() => T.sum(T.matmul(x, w)).backward());
        await opt.checkGrads();
        opt.step();
        opt.zeroGrad();
        t.grad = T.keep(T.scope(() => T.transpose(T.ones([3, 40]))));
        sgd.step();
        sgd.zeroGrad();
        T.ema([t], [w], 0.9);
      }
      const sd = opt.stateDict();
      opt.loadStateDict(sd);
      for (const v of Object.values(sd.tensors)) v.dispose();
      opt.dispose();
      sgd.dispose();
      for (const v of [w, t, x]) v.dispose();
      expect(T.liveTensors().map((l) => `${l.op} [${l.shape}]\n${l.stack}`)).toEqual([]);
    } finally {
      T.setLeakTracking(false);
    }
  });
});
