import { beforeAll, describe, expect, test } from 'vitest';
import * as T from '@seco/tensor';
import { clsLoss, ptcLoss, segLoss, upsampleLogits } from '../src/losses/index.ts';
import { ligLoss } from '../src/seco/losses/lig.ts';
import { lilLoss } from '../src/seco/losses/lil.ts';
import {
  expectClose, expectTensor, type FixtureCase, type FixtureTensor, loadGroup, loadJson, maxAbs, toTensor,
} from '../../../test/support/fixtures.ts';
import { gradcheck, type ND, nd, randomND, seededUniform } from '../../../test/support/gradcheck.ts';
import { ligRef, lilRef, ptcRef, segRef } from './losses.ref.ts';

beforeAll(async () => {
  await T.init();
});

const LOSS = { rtol: 1e-4, atol: 1e-6 };
const gradTol = (want: FixtureTensor) => ({ rtol: 1e-3, atol: 1e-3 * maxAbs(want) });
const ints = (t: FixtureTensor) => toTensor(t, 'i32');

/** Runs fn inside a scope, then frees the leaves' gradients too. */
async function withTensors(fn: (track: (t: T.Tensor) => T.Tensor) => Promise<void>): Promise<void> {
  const made: T.Tensor[] = [];
  const track = (t: T.Tensor) => (made.push(t), t);
  try {
    await fn(track);
  } finally {
    for (const t of made) {
      t.grad?.dispose();
      t.dispose();
    }
  }
}

describe('seco_fixtures.json (original SeCo outputs)', () => {
  const fx = loadJson<Record<string, FixtureTensor>>('seco/seco_fixtures.json');
  const params = { lilT: 0.08, ligT: 0.1 };

  test('lil: loss and revised flags; lig on the revised flags', async () => {
    await withTensors(async (track) => {
      const q = track(toTensor(fx['lil.q']));
      const queue = track(toTensor(fx['lil.queue_all']));
      const flags = track(toTensor(fx['lil.flags']));
      const flagsAll = track(toTensor(fx['lil.flags_all']));
      const { loss, flagsRevised } = lilLoss(q, queue, flags, flagsAll, { temperature: params.lilT });
      track(loss);
      track(flagsRevised);
      expect(loss.shape).toEqual([]);
      expectClose(await loss.data(), fx['lil.loss'].data, LOSS, 'lil.loss');
      await expectTensor(flagsRevised, fx['lil.flags_revised'], { rtol: 0, atol: 0 }, 'lil.flags_revised');
      const lig = track(ligLoss(q, track(toTensor(fx['lig.prototypes'])), flagsRevised, { temperature: params.ligT }));
      expectClose(await lig.data(), fx['lig.loss'].data, LOSS, 'lig.loss');
    });
  });

  test('seg: get_seg_loss', async () => {
    await withTensors(async (track) => {
      const loss = track(segLoss(track(toTensor(fx['seg.pred'])), track(ints(fx['seg.label']))));
      expectClose(await loss.data(), fx['seg.loss'].data, LOSS, 'seg.loss');
    });
  });

  test('ptc: get_masked_ptc_loss', async () => {
    await withTensors(async (track) => {
      const loss = track(ptcLoss(track(toTensor(fx['ptc.fmap'])), track(ints(fx['ptc.aff_mask']))));
      expectClose(await loss.data(), fx['ptc.loss'].data, LOSS, 'ptc.loss');
    });
  });
});

describe('losses.json: values and gradients', () => {
  const group = loadGroup('seco/losses.json');
  type Run = (inp: Record<string, T.Tensor>, p: Record<string, unknown>) => Record<string, T.Tensor>;
  // Which loss a case exercises, told by its inputs (case names may change when the file is regenerated).
  const kinds: { kind: string; inputs: string[]; run: Run }[] = [
    {
      kind: 'LIL',
      inputs: ['output_q', 'k_now', 'queue', 'flags', 'flags_all'],
      run: (inp, p) => {
        const queueAll = T.concat([inp.output_q, inp.k_now, inp.queue], 0);
        const r = lilLoss(inp.output_q, queueAll, inp.flags, inp.flags_all, { temperature: p.temperature as number, baseTemperature: p.base_temperature as number });
        queueAll.dispose();
        return { loss: r.loss, flags_revised: r.flagsRevised };
      },
    },
    {
      kind: 'LIG',
      inputs: ['output_q', 'prototypes', 'flags'],
      run: (inp, p) => ({
        loss: ligLoss(inp.output_q, inp.prototypes, inp.flags, { temperature: p.temperature as number, baseTemperature: p.base_temperature as number }),
      }),
    },
    { kind: 'PTC', inputs: ['fmap', 'label', 'aff_mask'], run: (inp) => ({ loss: ptcLoss(inp.fmap, inp.aff_mask) }) },
    {
      kind: 'seg',
      inputs: ['logits', 'label'],
      run: (inp) => ({
        loss: segLoss(inp.logits, inp.label),
        upsampled_logits: T.noGrad(() => upsampleLogits(inp.logits, [inp.label.shape[1], inp.label.shape[2]])),
      }),
    },
  ];
  const kindOf = (c: FixtureCase) => kinds.find((k) => [...k.inputs].sort().join() === Object.keys(c.inputs).sort().join());

  test('every case is one of the four losses, and each loss has a case', () => {
    for (const c of group.cases) expect(kindOf(c), `${c.name} inputs ${Object.keys(c.inputs).join(', ')}`).toBeTruthy();
    expect(new Set(group.cases.map((c) => kindOf(c)?.kind)).size).toBe(kinds.length);
  });

  for (const c of group.cases) {
    const name = c.name;
    test(`${name} (${kindOf(c)?.kind ?? 'unknown'})`, async () => {
      const kind = kindOf(c);
      if (!kind) throw new Error(`losses.json case ${name}: inputs ${Object.keys(c.inputs).join(', ')} fit no loss`);
      await withTensors(async (track) => {
        const inputs: Record<string, T.Tensor> = {};
        for (const [k, v] of Object.entries(c.inputs)) {
          const t = track(v.dtype === 'int32' ? ints(v) : toTensor(v));
          if (c.grads?.[k]) t.requiresGrad_();
          inputs[k] = t;
        }
        const out = kind.run(inputs, c.params);
        Object.values(out).forEach(track);
        for (const [k, want] of Object.entries(c.outputs)) {
          const exact = k === 'flags_revised';
          await expectTensor(out[k], want, exact ? { rtol: 0, atol: 0 } : k === 'loss' ? LOSS : { rtol: 1e-4, atol: 1e-5 }, `${name} ${k}`);
        }
        out.loss.backward();
        for (const [k, want] of Object.entries(c.grads ?? {})) {
          const g = inputs[k].grad;
          if (!g) throw new Error(`${name}: ${k} received no gradient`);
          await expectTensor(g, want, gradTol(want), `${name} grad ${k}`);
        }
      });
    });
  }
});

describe('cls loss', () => {
  const cases = loadGroup('ops/loss.json').cases.filter((c) => c.params.op === 'multilabel_soft_margin_loss' && c.params.reduction === 'mean');

  test('has multilabel soft margin mean cases', () => expect(cases.length).toBeGreaterThan(0));
  for (const c of cases) {
    test(`${c.name}: value and gradient`, async () => {
      await withTensors(async (track) => {
        const x = track(toTensor(c.inputs.x).requiresGrad_());
        const y = track(toTensor(c.inputs.y));
        const out = track(clsLoss(x, y));
        await expectTensor(out, c.outputs.out, LOSS, `${c.name} loss`);
        T.sum(T.mul(out, track(toTensor(c.grad_weight!.out)))).backward();
        await expectTensor(x.grad!, c.grads!.x, { rtol: 1e-3, atol: 1e-4 }, `${c.name} grad`);
        const yi = track(T.cast(y, 'i32'));
        const outInt = track(clsLoss(x, yi));
        expectClose(await outInt.data(), await out.data(), { rtol: 0, atol: 0 }, 'integer labels');
      });
    });
  }
});

describe('finite differences against f64 references', () => {
  const rng = seededUniform(11);

  test('seg loss (with ignored, bg and fg pixels)', async () => {
    const [B, C, H, W] = [2, 4, 3, 5];
    const label = Array.from({ length: B * H * W }, (_, i) => [0, 1, 2, 3, 255, 0][i % 6]);
    await gradcheck({
      label: 'segLoss',
      inputs: [randomND([B, C, H, W], rng, -2, 2)],
      gpu: ([x]) => {
        const l = T.tensor(label, [B, H, W], 'i32');
        const out = segLoss(x, l);
        l.dispose();
        return out;
      },
      cpu: ([x]) => segRef(x, label),
    });
  });

  test('ptc loss (1, 0 and 255 in the mask)', async () => {
    const [B, C, h, w] = [2, 5, 2, 3];
    const n = h * w;
    const lab = Array.from({ length: B * n }, (_, i) => [0, 1, 2, 255, 1, 0][i % 6]);
    const aff: number[] = [];
    for (let b = 0; b < B; b++) {
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          const li = lab[b * n + i];
          const lj = lab[b * n + j];
          aff.push(li === 255 || lj === 255 || i === j ? 255 : li === lj ? 1 : 0);
        }
      }
    }
    await gradcheck({
      label: 'ptcLoss',
      inputs: [randomND([B, C, h, w], rng)],
      gpu: ([x]) => {
        const m = T.tensor(aff, [B, n, n], 'i32');
        const out = ptcLoss(x, m);
        m.dispose();
        return out;
      },
      cpu: ([x]) => ptcRef(x, aff),
    });
  });

  test('lig loss (flags −1, 0, classes; one class absent)', async () => {
    const [b, D, C] = [7, 6, 4];
    const flags = [1, 0, 2, -1, 1, 4, 2];
    await gradcheck({
      label: 'ligLoss',
      inputs: [randomND([b, D], rng, -0.5, 0.5), randomND([C, D], rng, -0.5, 0.5)],
      wrt: [0],
      gpu: ([q, p]) => {
        const f = T.tensor(flags, [b, 1], 'i32');
        const out = ligLoss(q, p, f, { temperature: 0.1 });
        f.dispose();
        return out;
      },
      cpu: ([q, p]) => ligRef(q, p, flags, 0.1),
    });
  });
});

describe('LIL noise filter (the fixtures never trigger it)', () => {
  /**
   * Row 0's positives: `copies` equal keys and its own copy (l = 0), plus a key tagged 0 and one tagged −1:
   * `copies` entries lie below the row mean and 3 at or above it, so the row is revised iff copies > 10·3.
   */
  function noisyCase(copies: number): { q: ND; keys: ND; flags: number[]; keyFlags: number[] } {
    const rng = seededUniform(5);
    const D = 8;
    const unit = (v: number[]) => {
      const n = Math.hypot(...v);
      return v.map((x) => Math.fround(x / n));
    };
    const qRows = Array.from({ length: 4 }, () => unit(Array.from({ length: D }, () => rng())));
    const v = unit(Array.from({ length: D }, () => rng()));
    const keys = [...Array.from({ length: copies }, () => v), qRows[0], unit(Array.from({ length: D }, () => rng())), unit(Array.from({ length: D }, () => rng()))];
    return {
      q: nd(qRows.flat(), [4, D]),
      keys: nd(keys.flat(), [keys.length, D]),
      flags: [1, 0, -1, 2],
      keyFlags: [...Array<number>(copies + 1).fill(1), 0, -1],
    };
  }

  const variants = [
    { copies: 31, dtype: 'f32', revised: [0, 0, -1, 2] },
    { copies: 31, dtype: 'i32', revised: [0, 0, -1, 2] },
    // 30 / (3 + 1e-6) < 10: the strict inequality keeps the flag.
    { copies: 30, dtype: 'f32', revised: [1, 0, -1, 2] },
  ] as const;
  for (const { copies, dtype, revised } of variants) {
    test(`${copies} equal positives, ${dtype} flags: flags ${revised.join(',')} and the f64 reference loss`, async () => {
      const c = noisyCase(copies);
      const ref = lilRef(c.q, c.keys, c.flags, c.keyFlags, 0.08);
      expect(ref.flags).toEqual(revised);
      await withTensors(async (track) => {
        const q = track(T.tensor(Float32Array.from(c.q.data), c.q.shape));
        const queueAll = track(T.tensor(Float32Array.from([...c.q.data, ...c.keys.data]), [c.q.shape[0] + c.keys.shape[0], c.q.shape[1]]));
        const flags = track(T.tensor(c.flags, [4], dtype));
        const flagsAll = track(T.tensor([...c.flags, ...c.keyFlags], [4 + c.keyFlags.length, 1], dtype));
        const r = lilLoss(q, queueAll, flags, flagsAll);
        track(r.loss);
        track(r.flagsRevised);
        expect(r.flagsRevised.dtype).toBe(dtype);
        expect(r.flagsRevised.shape).toEqual([4]);
        expect(Array.from(await r.flagsRevised.data())).toEqual(ref.flags);
        expectClose(await r.loss.data(), [ref.loss], { rtol: 1e-4, atol: 1e-6 }, 'lil loss');
        // The input flags are not mutated: the revision is returned.
        expect(Array.from(await flags.data())).toEqual(c.flags);
      });
    });
  }
});

describe('bad input names the loss and the shapes', () => {
  const withInputs = (shapes: number[][], fn: (...ts: T.Tensor[]) => unknown): (() => unknown) => () => {
    const ts = shapes.map((s) => T.zeros(s));
    try {
      return fn(...ts);
    } finally {
      ts.forEach((t) => t.dispose());
    }
  };

  test('ptc', () => {
    expect(withInputs([[2, 4, 3, 3], [2, 9, 8]], (f, m) => ptcLoss(f, m))).toThrow(/ptcLoss: affMask must be \(B, h·w, h·w\) = \(2, 9, 9\).*\[2, 4, 3, 3\].*\[2, 9, 8\]/);
    expect(withInputs([[4, 3, 3], [2, 9, 9]], (f, m) => ptcLoss(f, m))).toThrow(/ptcLoss: fmap must be \(B, C, h, w\), got rank 3/);
  });
  test('lil', () => {
    expect(withInputs([[4, 8], [10, 7], [4], [10]], (q, k, f, g) => lilLoss(q, k, f, g))).toThrow(/lilLoss: queueAll must be .*\[4, 8\].*\[10, 7\]/);
    expect(withInputs([[4, 8], [10, 8], [5], [10]], (q, k, f, g) => lilLoss(q, k, f, g))).toThrow(/lilLoss: flags must be \(4\) or \(4, 1\).*\[5\]/);
    expect(withInputs([[4, 8], [10, 8], [4], [9, 1]], (q, k, f, g) => lilLoss(q, k, f, g))).toThrow(/lilLoss: flagsAll must be \(10\) or \(10, 1\).*\[9, 1\]/);
  });
  test('lig', () => {
    expect(withInputs([[4, 8], [3, 6], [4, 1]], (q, p, f) => ligLoss(q, p, f))).toThrow(/ligLoss: q and prototypes must have the same feature size.*\[4, 8\].*\[3, 6\]/);
  });
  test('seg', () => {
    const label = T.zeros([3, 5, 5], 'i32');
    try {
      expect(withInputs([[2, 4, 5, 5]], (p) => segLoss(p, label))).toThrow(/segLoss: pred and label have different batch sizes.*\[2, 4, 5, 5\].*\[3, 5, 5\]/);
    } finally {
      label.dispose();
    }
    expect(withInputs([[2, 4, 5, 5], [2, 5, 5]], (p, l) => segLoss(p, l))).toThrow(/segLoss: label must hold integer class ids/);
  });
  test('cls', () => {
    expect(withInputs([[2, 4], [2, 5]], (x, y) => clsLoss(x, y))).toThrow(/clsLoss: logits and labels must have the same shape.*\[2, 4\].*\[2, 5\]/);
  });
});

test('a step through every loss leaves no tensor or buffer behind', async () => {
  const rng = seededUniform(3);
  const rand = (shape: number[]) => T.tensor(Float32Array.from(randomND(shape, rng).data), shape);
  const q = rand([6, 8]).requiresGrad_();
  const fmap = rand([2, 8, 2, 3]).requiresGrad_();
  const seg = rand([2, 3, 2, 3]).requiresGrad_();
  const fixed = [
    rand([20, 8]),
    T.tensor([1, 0, 2, -1, 1, 2], [6, 1], 'i32'),
    T.tensor(Array.from({ length: 20 }, (_, i) => (i % 4) - 1), [20, 1], 'i32'),
    rand([3, 8]),
    T.tensor(Array.from({ length: 72 }, (_, i) => [0, 1, 255][i % 3]), [2, 6, 6], 'i32'),
    T.tensor(Array.from({ length: 2 * 4 * 5 }, (_, i) => [0, 1, 2, 255][i % 4]), [2, 4, 5], 'i32'),
  ];
  const [queue, flags, flagsAll, protos, aff, label] = fixed;
  const step = () => {
    const lil = lilLoss(q, queue, flags, flagsAll);
    const lig = ligLoss(q, protos, lil.flagsRevised);
    const parts = [lil.loss, lig, ptcLoss(fmap, aff), segLoss(seg, label)];
    // The partial sums are the test's own: a scope frees them.
    const total = T.scope(() => T.add(T.add(parts[0], parts[1]), T.add(parts[2], parts[3])));
    total.backward();
    for (const t of [lil.flagsRevised, ...parts, total]) t.dispose();
    for (const t of [q, fmap, seg]) {
      t.grad?.dispose();
      t.grad = null;
    }
  };
  T.setLeakTracking(true);
  try {
    step();
    await T.engine().sync();
    const before = T.memoryStats();
    step();
    await T.engine().sync();
    const after = T.memoryStats();
    expect(after.liveTensors, JSON.stringify(T.liveTensors().slice(-5))).toBe(before.liveTensors);
    expect(after.liveBuffers).toBe(before.liveBuffers);
  } finally {
    T.setLeakTracking(false);
    for (const t of [q, fmap, seg, ...fixed]) t.dispose();
  }
});
