// Mixed precision: dynamic loss scaling with its state on the GPU (skipped steps leave the optimizer untouched,
// no readback per step), f16 parameters trained through f32 masters, and both through the sliced paths.
import { beforeAll, describe, expect, test } from 'vitest';
import * as T from '../src/index.ts';
import { nn } from '../src/index.ts';
import { randomTensor, underTinyLimit } from './support/binding-limit.ts';

beforeAll(async () => {
  await T.init();
});

const h = (v: number) => T.halfToFloat(T.floatToHalf(v));
const bits = async (t: T.Tensor) => Array.from(new Uint32Array(Float32Array.from(await t.data()).buffer));
const readbacks = () => T.engine().stats().readbacks;

/** PyTorch's GradScaler.update rule, on the host. */
function referenceScales(initScale: number, interval: number, overflowAt: ReadonlySet<number>, steps: number): number[] {
  const out: number[] = [];
  let scale = initScale;
  let tracker = 0;
  for (let s = 1; s <= steps; s++) {
    out.push(scale); // the scale this step's loss was multiplied by
    if (overflowAt.has(s)) {
      scale *= 0.5;
      tracker = 0;
    } else if (++tracker === interval) {
      scale *= 2;
      tracker = 0;
    }
  }
  out.push(scale);
  return out;
}

const SHAPES = [[300], [5, 7]];
const STEPS = 10;
const OVERFLOW = new Map<number, number>([
  [3, Infinity],
  [7, NaN],
]);

describe('GradScaler', () => {
  test('scale sequence, skipped steps and clean steps against PyTorch rules and an unscaled AdamW, with no readback per step', async () => {
    const draw = async (step: number) => Promise.all(SHAPES.map(async (s, i) => Float32Array.from(await T.scope(() => T.randn(s, 0, 1, new T.Generator(step * 10 + i))).data())));
    const init = await draw(0);
    const params = init.map((v, i) => T.keep(T.tensor(v, SHAPES[i]).requiresGrad_()));
    const plain = init.map((v, i) => T.keep(T.tensor(v, SHAPES[i]).requiresGrad_()));
    const hyper = { lr: 0.01, weightDecay: 0.1, betas: [0.8, 0.99] as [number, number] };
    const opt = new T.AdamW(params, hyper);
    const ref = new T.AdamW(plain, hyper);
    const interval = 3;
    const scaler = new T.GradScaler({ initScale: 2 ** 10, growthInterval: interval });
    const scales = referenceScales(2 ** 10, interval, new Set(OVERFLOW.keys()), STEPS);
    let inStep = 0;
    try {
      for (let step = 1; step <= STEPS; step++) {
        const grads = await draw(step);
        // The scaled gradients a backward pass would give; powers of two make unscaling exact.
        params.forEach((p, i) => {
          const scaled = grads[i].map((g) => g * scales[step - 1]);
          if (OVERFLOW.has(step) && i === 1) scaled[4] = OVERFLOW.get(step)!;
          p.grad = T.keep(T.tensor(scaled, SHAPES[i]));
        });
        const before = await Promise.all([...params, ...liveMoments(opt)].map(bits));
        const r0 = readbacks();
        scaler.step(opt);
        scaler.update();
        opt.zeroGrad();
        inStep += readbacks() - r0;
        const after = await Promise.all([...params, ...liveMoments(opt)].map(bits));
        if (OVERFLOW.has(step)) {
          expect(after, `step ${step} overflowed: parameters and moments unchanged`).toEqual(before);
        } else {
          plain.forEach((p, i) => (p.grad = T.keep(T.tensor(grads[i], SHAPES[i]))));
          ref.step();
          ref.zeroGrad();
          for (let i = 0; i < params.length; i++) {
            const got = await params[i].data();
            const want = await plain[i].data();
            if (step < 3) expect(await bits(params[i]), `step ${step}: before any skip the kernels use the host's exact scalars`).toEqual(await bits(plain[i]));
            for (let k = 0; k < want.length; k++) expect(Math.abs(got[k] - want[k]), `step ${step} param ${i}[${k}]`).toBeLessThanOrEqual(1e-6 * Math.abs(want[k]) + 1e-7);
          }
        }
        const stats = await scaler.stats();
        expect(stats.scale, `scale after step ${step}`).toBe(scales[step]);
      }
      expect(inStep, 'steps and updates never wait for the GPU').toBe(0);
      const stats = await scaler.stats();
      expect(stats.skippedSteps).toBe(2);
      expect(await opt.skippedSteps()).toBe(2);
      // As PyTorch, where a skipped step never reaches the optimizer: the moments equal the 8-step run's.
      const [m, r] = [liveMoments(opt), liveMoments(ref)];
      for (let k = 0; k < m.length; k++) {
        const a = await m[k].data();
        const b = await r[k].data();
        for (let j = 0; j < b.length; j++) expect(Math.abs(a[j] - b[j])).toBeLessThanOrEqual(1e-6 * Math.abs(b[j]) + 1e-12);
      }
      // A plain step after skipped ones (no scaler) still leaves them out of the bias corrections.
      const grads = await draw(STEPS + 1);
      params.forEach((p, i) => (p.grad = T.keep(T.tensor(grads[i], SHAPES[i]))));
      plain.forEach((p, i) => (p.grad = T.keep(T.tensor(grads[i], SHAPES[i]))));
      opt.step();
      ref.step();
      for (let i = 0; i < params.length; i++) {
        const got = await params[i].data();
        const want = await plain[i].data();
        for (let k = 0; k < want.length; k++) expect(Math.abs(got[k] - want[k]), `plain step param ${i}[${k}]`).toBeLessThanOrEqual(1e-6 * Math.abs(want[k]) + 1e-7);
      }
    } finally {
      for (const t of [...params, ...plain]) t.dispose();
      opt.dispose();
      ref.dispose();
      scaler.dispose();
    }
  });

  test('growth waits for the interval, stops at a non-finite scale, and state round-trips as PyTorch names it', async () => {
    const p = T.keep(T.zeros([4]).requiresGrad_());
    const opt = new T.AdamW([p]);
    const scaler = new T.GradScaler({ initScale: 2 ** 126, growthInterval: 2, growthFactor: 4 });
    try {
      const scales: number[] = [];
      for (let s = 0; s < 5; s++) {
        p.grad = T.keep(T.ones([4]));
        scaler.step(opt);
        scaler.update();
        opt.zeroGrad();
        scales.push((await scaler.stats()).scale);
      }
      // 2^126·4 overflows f32, so the scale stays (PyTorch keeps the old scale when the grown one is not finite).
      expect(scales).toEqual([2 ** 126, 2 ** 126, 2 ** 126, 2 ** 126, 2 ** 126]);
      const sd = await scaler.stateDict();
      expect(sd).toEqual({ scale: 2 ** 126, growth_factor: 4, backoff_factor: 0.5, growth_interval: 2, _growth_tracker: 1, skipped_steps: 0 });
      const again = new T.GradScaler({ growthInterval: 2, growthFactor: 4 });
      again.loadStateDict({ ...sd, scale: 8 });
      p.grad = T.keep(T.ones([4]));
      again.step(opt);
      again.update();
      opt.zeroGrad();
      expect(await again.stats()).toEqual({ scale: 32, growthTracker: 0, skippedSteps: 0 });
      again.update(3);
      expect((await again.stats()).scale).toBe(3);
      again.dispose();
      expect(() => scaler.step(new T.SGD([T.keep(T.zeros([1]).requiresGrad_())]))).toThrow(/cannot skip a step on the GPU/);
      expect(() => new T.GradScaler({ backoffFactor: 1 })).toThrow(/backoffFactor/);
    } finally {
      p.dispose();
      opt.dispose();
      scaler.dispose();
    }
  });

  test('scale(loss) multiplies by the GPU scale and backward gives scaled gradients', async () => {
    const scaler = new T.GradScaler({ initScale: 1024 });
    const x = T.keep(T.tensor([1, 2, 3]).requiresGrad_());
    try {
      const l = T.scope(() => {
        const scaled = scaler.scale(T.sum(T.mul(x, x)));
        scaled.backward();
        return scaled;
      });
      expect([...(await l.data())]).toEqual([14 * 1024]);
      expect([...(await x.grad!.data())]).toEqual([2, 4, 6].map((v) => v * 1024));
      l.dispose();
    } finally {
      x.grad?.dispose();
      x.dispose();
      scaler.dispose();
    }
  });
});

/** The optimizer's live exp_avg and exp_avg_sq tensors, in parameter order. */
function liveMoments(opt: T.AdamW): T.Tensor[] {
  const sd = opt.stateDict({ copy: false });
  return Object.keys(sd.tensors)
    .filter((k) => /exp_avg/.test(k))
    .sort()
    .map((k) => sd.tensors[k]);
}

const f16 = () => T.engine().supportsF16;

describe('f16 parameters with f32 masters', () => {
  test('AdamW on f16 params: masters follow the f32 run bit for bit, params are the masters rounded, state round trip is exact', async (ctx) => {
    if (!f16()) ctx.skip('the adapter lacks shader-f16');
    const n = 257;
    const init = Float32Array.from(await T.scope(() => T.randn([n], 0, 1, new T.Generator(3))).data(), h);
    const grads = await Promise.all([0, 1, 2, 3, 4].map(async (s) => Float32Array.from(await T.scope(() => T.randn([n], 0, 0.1, new T.Generator(40 + s))).data(), h)));
    const hyper = { lr: 0.01, weightDecay: 0.05 };
    const half = T.keep(T.tensor(init, [n], 'f16').requiresGrad_());
    const full = T.keep(T.tensor(init, [n]).requiresGrad_());
    const optH = new T.AdamW([half], hyper);
    const optF = new T.AdamW([full], hyper);
    let resumed: { opt: T.AdamW; p: T.Tensor } | null = null;
    try {
      for (let s = 0; s < grads.length; s++) {
        // Even steps give f16 gradients, odd ones f32: both are accepted and read as the same values.
        half.grad = T.keep(T.tensor(grads[s], [n], s % 2 === 0 ? 'f16' : 'f32'));
        full.grad = T.keep(T.tensor(grads[s], [n]));
        optH.step();
        optF.step();
        optH.zeroGrad();
        optF.zeroGrad();
        if (s === 2) {
          const sd = optH.stateDict();
          expect(Object.keys(sd.tensors).sort()).toEqual(['state.0.exp_avg', 'state.0.exp_avg_sq', 'state.0.master']);
          const p = T.keep(T.tensor(await half.data(), [n], 'f16').requiresGrad_());
          const opt = new T.AdamW([p], hyper);
          opt.loadStateDict(sd);
          for (const t of Object.values(sd.tensors)) t.dispose();
          resumed = { opt, p };
        } else if (s > 2 && resumed) {
          resumed.p.grad = T.keep(T.tensor(grads[s], [n], s % 2 === 0 ? 'f16' : 'f32'));
          resumed.opt.step();
          resumed.opt.zeroGrad();
        }
      }
      const master = optH.stateDict({ copy: false }).tensors['state.0.master'];
      expect(await bits(master), 'the master is the f32 run').toEqual(await bits(full));
      const m = await master.data();
      expect([...(await half.data())], 'the parameter is its master rounded to f16').toEqual([...m].map(h));
      const params = await full.data();
      for (let i = 0; i < n; i++) expect(Math.abs((await half.data())[i] - params[i])).toBeLessThanOrEqual(Math.abs(params[i]) * 2 ** -11 + 2 ** -25);
      expect(resumed).not.toBeNull();
      expect(await bits(resumed!.opt.stateDict({ copy: false }).tensors['state.0.master']), 'resume is exact').toEqual(await bits(master));
      expect(await bits(resumed!.p)).toEqual(await bits(half));
      const noMaster = optH.stateDict();
      noMaster.tensors['state.0.master'].dispose();
      delete noMaster.tensors['state.0.master'];
      expect(() => resumed!.opt.loadStateDict(noMaster)).toThrow(/f16 parameters need their f32 master/);
      for (const t of Object.values(noMaster.tensors)) t.dispose();
    } finally {
      for (const t of [half, full]) t.dispose();
      optH.dispose();
      optF.dispose();
      resumed?.opt.dispose();
      resumed?.p.dispose();
    }
  });

  test('SGD still refuses f16 parameters, naming the reason', (ctx) => {
    if (!f16()) ctx.skip('the adapter lacks shader-f16');
    const p = T.keep(T.zeros([2], 'f16').requiresGrad_());
    try {
      expect(() => new T.SGD([p])).toThrow(/keeps no f32 master weights/);
    } finally {
      p.dispose();
    }
  });

  test('a tiny MLP in f16 with GradScaler + AdamW reaches the loss of the f32 run', async (ctx) => {
    if (!f16()) ctx.skip('the adapter lacks shader-f16');
    const build = () =>
      new nn.Sequential(new nn.Linear(8, 32, { generator: new T.Generator(11) }), new nn.GELU(), new nn.Linear(32, 1, { generator: new T.Generator(12) }));
    const x = T.keep(T.randn([64, 8], 0, 1, new T.Generator(1)));
    const y = T.keep(T.scope(() => T.sum(T.mul(x, T.tensor([0.5, -1, 0.25, 2, 0, -0.5, 1, 0.3])), 1, true)));
    const xh = T.keep(T.cast(x, 'f16'));
    const run = async (half: boolean) => {
      const model = build();
      if (half) model.to('f16');
      const opt = new T.AdamW(model.parameters(), { lr: 0.02, weightDecay: 0 });
      const scaler = new T.GradScaler({ enabled: half });
      const losses: T.Tensor[] = [];
      try {
        for (let s = 0; s < 20; s++) {
          const loss = T.scope(() => {
            const out = model.forward(half ? xh : x);
            const diff = T.sub(half ? T.cast(out, 'f32') : out, y);
            const l = T.mean(T.mul(diff, diff));
            scaler.scale(l).backward();
            return l;
          });
          losses.push(loss);
          scaler.step(opt);
          scaler.update();
          opt.zeroGrad();
        }
        const values = await Promise.all(losses.map(async (l) => (await l.data())[0]));
        return { values, skipped: (await scaler.stats()).skippedSteps };
      } finally {
        for (const l of losses) l.dispose();
        opt.dispose();
        scaler.dispose();
        for (const p of model.parameters()) p.dispose();
      }
    };
    try {
      const full = await run(false);
      const half = await run(true);
      expect(full.values[19]).toBeLessThan(full.values[0] * 0.5);
      // 2^16 times the first loss overflows the f16 backward: that step is skipped and the scale backs off, so the
      // f16 run is the f32 run one step later, within f16 rounding.
      expect(half.skipped).toBeGreaterThanOrEqual(1);
      expect(half.skipped).toBeLessThan(4);
      expect(Math.abs(half.values[19] - full.values[19 - half.skipped])).toBeLessThan(0.01 * full.values[0]);
    } finally {
      for (const t of [x, y, xh]) t.dispose();
    }
  });
});

describe('EMA of f16 weights', () => {
  test('an f16 source averages into an f32 target exactly as its f32 widening does; an f16 target is refused', async (ctx) => {
    if (!f16()) ctx.skip('the adapter lacks shader-f16');
    const src = Float32Array.from(await T.scope(() => T.randn([300], 0, 1, new T.Generator(8))).data(), h);
    const start = await T.scope(() => T.randn([300], 0, 1, new T.Generator(9))).data();
    const half = T.keep(T.tensor(src, [300], 'f16'));
    const wide = T.keep(T.tensor(src, [300]));
    const a = T.keep(T.tensor(start, [300]));
    const b = T.keep(T.tensor(start, [300]));
    try {
      for (let s = 0; s < 3; s++) {
        T.ema([a], [half], 0.99);
        T.ema([b], [wide], 0.99);
      }
      expect(await bits(a)).toEqual(await bits(b));
      expect(await bits(a)).not.toEqual(Array.from(new Uint32Array(Float32Array.from(start).buffer)));
      expect(() => T.ema([half], [a], 0.99)).toThrow(/target 0 is f16; keep the average in f32/);
    } finally {
      for (const t of [half, wide, a, b]) t.dispose();
    }
  });
});

describe('memory', () => {
  test('scaled f16 steps, skips, state round trips and disposal leave no live tensors', async (ctx) => {
    if (!f16()) ctx.skip('the adapter lacks shader-f16');
    T.setLeakTracking(true);
    try {
      const w = T.keep(T.scope(() => T.cast(T.randn([6, 5], 0, 1, new T.Generator(2)), 'f16')).requiresGrad_());
      const x = T.keep(T.randn([3, 6], 0, 1, new T.Generator(4), 'f16'));
      const opt = new T.AdamW([w], { lr: 0.01 });
      const scaler = new T.GradScaler();
      for (let s = 0; s < 3; s++) {
        // A transposed f16 gradient (matmul's dW) takes the dense-copy and widening paths.
        T.scope(() => scaler.scale(T.sum(T.cast(T.matmul(x, w), 'f32'))).backward());
        if (s === 1) scaler.unscale(opt); // an explicit unscale (as before clipping), then step
        scaler.step(opt);
        scaler.update();
        opt.zeroGrad();
      }
      const sd = opt.stateDict();
      expect(Object.keys(sd.tensors)).toContain('skipped_steps');
      opt.loadStateDict(sd);
      for (const v of Object.values(sd.tensors)) v.dispose();
      expect(() => scaler.update(0)).toThrow(/newScale must be positive/);
      opt.dispose();
      scaler.dispose();
      for (const v of [w, x]) v.dispose();
      expect(T.liveTensors().map((l) => `${l.op} [${l.shape}]\n${l.stack}`)).toEqual([]);
    } finally {
      T.setLeakTracking(false);
    }
  });
});

describe('past the binding limit', () => {
  test('one unscale + gated AdamW step (f32 and f16 params, f16 and f32 grads) under a tiny limit equals the unsliced one', async (ctx) => {
    if (!f16()) ctx.skip('the adapter lacks shader-f16');
    const shapes = [[3000], [40, 70], [9]];
    const { full, sliced } = await underTinyLimit(() => {
      const params = shapes.map((s, i) => T.keep(i === 1 ? T.scope(() => T.cast(randomTensor(s, 10 + i), 'f16')) : randomTensor(s, 10 + i)).requiresGrad_());
      const opt = new T.AdamW(params, { lr: 0.01 });
      const scaler = new T.GradScaler({ initScale: 2 ** 4 });
      params.forEach((p, i) => (p.grad = T.keep(i === 1 ? T.scope(() => T.cast(randomTensor(shapes[i], 20 + i), 'f16')) : randomTensor(shapes[i], 20 + i))));
      scaler.step(opt);
      scaler.update();
      const master = T.keep(T.copy(opt.stateDict({ copy: false }).tensors['state.1.master']));
      const out = [...params.map((p) => T.keep(T.cast(p, 'f32'))), master];
      opt.zeroGrad();
      opt.dispose();
      scaler.dispose();
      for (const p of params) p.dispose();
      return out;
    });
    sliced.forEach((s, i) => expect(Array.from(s), `tensor ${i}`).toEqual(Array.from(full[i])));
  });
});
