import { beforeAll, describe, expect, test } from 'vitest';
import * as T from '../src/index.ts';
import { expectClose } from '../../../test/support/fixtures.ts';

const { nn } = T;

beforeAll(async () => {
  await T.init();
});

/** A ViT block laid out as timm's, to check the dotted names. */
class Attention extends nn.Module {
  readonly qkv: T.nn.Linear;
  readonly proj: T.nn.Linear;
  constructor(dim: number, gen: T.Generator) {
    super();
    this.qkv = this.registerModule('qkv', new nn.Linear(dim, dim * 3, { generator: gen }));
    this.proj = this.registerModule('proj', new nn.Linear(dim, dim, { generator: gen }));
  }
  forward(x: T.Tensor): T.Tensor {
    return this.proj.forward(x);
  }
}

class Mlp extends nn.Module {
  readonly fc1: T.nn.Linear;
  readonly act = new nn.GELU();
  readonly fc2: T.nn.Linear;
  constructor(dim: number, hidden: number, gen: T.Generator) {
    super();
    this.fc1 = this.registerModule('fc1', new nn.Linear(dim, hidden, { generator: gen }));
    this.registerModule('act', this.act);
    this.fc2 = this.registerModule('fc2', new nn.Linear(hidden, dim, { generator: gen }));
  }
  forward(x: T.Tensor): T.Tensor {
    return T.scope(() => this.fc2.forward(this.act.forward(this.fc1.forward(x))));
  }
}

class Block extends nn.Module {
  constructor(dim: number, gen: T.Generator) {
    super();
    this.registerModule('norm1', new nn.LayerNorm(dim, { eps: 1e-6 }));
    this.registerModule('attn', new Attention(dim, gen));
    this.registerModule('norm2', new nn.LayerNorm(dim, { eps: 1e-6 }));
    this.registerModule('mlp', new Mlp(dim, dim * 2, gen));
  }
  forward(x: T.Tensor): T.Tensor {
    return x;
  }
}

class TinyViT extends nn.Module {
  readonly blocks: T.nn.ModuleList<Block>;
  constructor(dim: number, depth: number, gen: T.Generator) {
    super();
    this.registerParameter('cls_token', T.zeros([1, 1, dim]));
    this.registerBuffer('queue_ptr', T.zeros([1], 'i32'));
    this.registerBuffer('scratch', T.zeros([4]), false);
    this.blocks = this.registerModule('blocks', new nn.ModuleList(Array.from({ length: depth }, () => new Block(dim, gen))));
    this.registerModule('norm', new nn.LayerNorm(dim, { eps: 1e-6 }));
    this.registerModule('head', new nn.Linear(dim, 3, { bias: false, generator: gen }));
  }
  forward(x: T.Tensor): T.Tensor {
    return x;
  }
}

const blockKeys = (i: number) =>
  ['norm1.weight', 'norm1.bias', 'attn.qkv.weight', 'attn.qkv.bias', 'attn.proj.weight', 'attn.proj.bias', 'norm2.weight', 'norm2.bias',
    'mlp.fc1.weight', 'mlp.fc1.bias', 'mlp.fc2.weight', 'mlp.fc2.bias'].map((k) => `blocks.${i}.${k}`);

describe('Module names', () => {
  test('namedParameters and stateDict use torch/timm keys in torch order', () => {
    const m = new TinyViT(8, 2, new T.Generator(1));
    try {
      const params = ['cls_token', ...blockKeys(0), ...blockKeys(1), 'norm.weight', 'norm.bias', 'head.weight'];
      expect(m.namedParameters().map(([k]) => k)).toEqual(params);
      // state_dict: each module's parameters, then its persistent buffers, then its children.
      expect(Object.keys(m.stateDict())).toEqual(['cls_token', 'queue_ptr', ...params.slice(1)]);
      expect(m.namedBuffers().map(([k]) => k)).toEqual(['queue_ptr', 'scratch']);
      expect(m.stateDict()['blocks.1.attn.qkv.weight'].shape).toEqual([24, 8]);
      expect(m.getSubmodule('blocks.1.mlp')).toBeInstanceOf(Mlp);
      expect(() => m.getSubmodule('blocks.7')).toThrow(/no submodule 'blocks\.7'/);
      expect([...m.namedModules()].map(([k]) => k).slice(0, 4)).toEqual(['', 'blocks', 'blocks.0', 'blocks.0.norm1']);
    } finally {
      m.dispose();
    }
  });

  test('a shared parameter is listed once; names must be unique and dot-free', () => {
    class Tied extends nn.Module {
      constructor() {
        super();
        const a = this.registerModule('a', new nn.Linear(2, 2));
        const b = this.registerModule('b', new nn.Identity());
        void b;
        expect(() => this.registerParameter('a', T.zeros([1]))).toThrow(/'a' is already registered/);
        expect(() => this.registerParameter('x.y', T.zeros([1]))).toThrow(/must be non-empty and have no '\.'/);
        this.registerParameter('tied', a.weight);
      }
      forward(x: T.Tensor) {
        return x;
      }
    }
    const m = new Tied();
    // As torch: named_parameters lists the tensor at its first name, state_dict under every name.
    expect(m.namedParameters().map(([k]) => k)).toEqual(['tied', 'a.bias']);
    expect(Object.keys(m.stateDict())).toEqual(['tied', 'a.weight', 'a.bias']);
    m.dispose();
  });
});

describe('loadStateDict', () => {
  test('strict: one error names every missing, unexpected and mis-shaped key, and loads nothing', async () => {
    const m = new TinyViT(8, 1, new T.Generator(2));
    const before = Array.from(await m.stateDict()['norm.weight'].data());
    const record: Record<string, T.nn.StateValue> = {};
    for (const [k, t] of Object.entries(m.stateDict())) record[k] = { shape: t.shape, data: new Float32Array(t.size).fill(7) };
    delete record['blocks.0.attn.proj.bias'];
    delete record['head.weight'];
    record['blocks.0.attn.qkv.weight'] = { shape: [8, 24], data: new Float32Array(192) };
    record['pos_embed'] = { shape: [1, 5, 8], data: new Float32Array(40) };
    try {
      let msg = '';
      try {
        m.loadStateDict(record);
      } catch (e) {
        msg = (e as Error).message;
      }
      expect(msg).toMatch(/missing keys \(2\): blocks\.0\.attn\.proj\.bias, head\.weight/);
      expect(msg).toMatch(/unexpected keys \(1\): pos_embed/);
      expect(msg).toMatch(/mis-shaped keys \(1\): blocks\.0\.attn\.qkv\.weight \(checkpoint \[8, 24\], model \[24, 8\]\)/);
      expect(Array.from(await m.stateDict()['norm.weight'].data())).toEqual(before);

      const r = m.loadStateDict(record, { strict: false });
      expect(r.missing).toEqual(['blocks.0.attn.proj.bias', 'head.weight']);
      expect(r.unexpected).toEqual(['pos_embed']);
      expect(r.mismatched.map((x) => x.key)).toEqual(['blocks.0.attn.qkv.weight']);
      expect(Array.from(await m.stateDict()['norm.weight'].data())).toEqual(new Array(8).fill(7));
      expect(Array.from(await m.stateDict()['queue_ptr'].data())).toEqual([7]);
    } finally {
      m.dispose();
    }
  });

  test('tensors load in place: a model copies another exactly and keeps its own storage', async () => {
    const a = new TinyViT(8, 1, new T.Generator(3));
    const b = new TinyViT(8, 1, new T.Generator(4));
    try {
      const handle = b.stateDict()['blocks.0.mlp.fc1.weight'];
      expect(Array.from(await handle.data())).not.toEqual(Array.from(await a.stateDict()['blocks.0.mlp.fc1.weight'].data()));
      const r = b.loadStateDict(a.stateDict());
      expect(r).toEqual({ missing: [], unexpected: [], mismatched: [] });
      expect(b.stateDict()['blocks.0.mlp.fc1.weight']).toBe(handle);
      for (const [k, t] of Object.entries(a.stateDict())) expect(Array.from(await b.stateDict()[k].data()), k).toEqual(Array.from(await t.data()));
      const wrongType = { ...a.stateDict(), queue_ptr: T.keep(T.zeros([1])) };
      expect(() => b.loadStateDict(wrongType)).toThrow(/queue_ptr \(checkpoint \[1\], model \[1\]; dtype f32, expected i32\)/);
      wrongType.queue_ptr.dispose();
    } finally {
      a.dispose();
      b.dispose();
    }
  });
});

describe('layers', () => {
  test('Linear: PyTorch init bounds, seeded, and forward = x·Wᵀ + b', async () => {
    const l = new nn.Linear(50, 7, { generator: new T.Generator(9) });
    const l2 = new nn.Linear(50, 7, { generator: new T.Generator(9) });
    try {
      const w = Array.from(await l.weight.data());
      const bound = 1 / Math.sqrt(50);
      expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(bound);
      expect(Math.max(...w.map(Math.abs))).toBeGreaterThan(0.9 * bound);
      const mean = w.reduce((s, v) => s + v, 0) / w.length;
      const variance = w.reduce((s, v) => s + (v - mean) ** 2, 0) / w.length;
      expect(variance).toBeGreaterThan(0.8 * (bound * bound) / 3);
      expect(variance).toBeLessThan(1.2 * (bound * bound) / 3);
      expect(Array.from(await l2.weight.data())).toEqual(w);
      expect(Math.max(...Array.from(await l.bias!.data()).map(Math.abs))).toBeLessThanOrEqual(bound);
      const xs = Float32Array.from({ length: 3 * 50 }, (_, i) => Math.sin(i));
      const y = await T.scope(() => l.forward(T.tensor(xs, [3, 50]))).data();
      const b = await l.bias!.data();
      const want: number[] = [];
      for (let r = 0; r < 3; r++) {
        for (let o = 0; o < 7; o++) {
          let s = b[o];
          for (let i = 0; i < 50; i++) s += xs[r * 50 + i] * w[o * 50 + i];
          want.push(s);
        }
      }
      expectClose(y, want, { rtol: 1e-5, atol: 1e-6 }, 'linear forward');
    } finally {
      l.dispose();
      l2.dispose();
    }
  });

  test('LayerNorm: ones and zeros, configurable eps', async () => {
    const n = new nn.LayerNorm([4], { eps: 0.5 });
    try {
      expect(Array.from(await n.weight!.data())).toEqual([1, 1, 1, 1]);
      expect(Array.from(await n.bias!.data())).toEqual([0, 0, 0, 0]);
      const y = await T.scope(() => n.forward(T.tensor([[1, 2, 3, 4]]))).data();
      const want = [1, 2, 3, 4].map((v) => (v - 2.5) / Math.sqrt(1.25 + 0.5));
      expectClose(y, want, { rtol: 1e-5, atol: 1e-6 }, 'layer norm eps 0.5');
      expect(new nn.LayerNorm(3, { elementwiseAffine: false }).namedParameters()).toEqual([]);
    } finally {
      n.dispose();
    }
  });

  test('Dropout: zeros about p of the inputs and scales the rest in train mode; identity in eval', async () => {
    const d = new nn.Dropout(0.3, new T.Generator(5));
    const x = T.keep(T.full([4000], 2));
    try {
      expect(d.training).toBe(true);
      const y = await T.scope(() => d.forward(x)).data();
      const zeros = y.filter((v) => v === 0).length;
      expect(zeros / y.length).toBeGreaterThan(0.26);
      expect(zeros / y.length).toBeLessThan(0.34);
      for (const v of y) if (v !== 0) expect(v).toBeCloseTo(2 / 0.7, 5);
      const seq = new nn.Sequential(new nn.Identity(), d);
      seq.eval();
      expect(d.training).toBe(false);
      const same = seq.forward(x);
      expect(same.buffer).toBe(x.buffer); // eval: the input's own storage, untouched
      expect(Array.from(await same.data())).toEqual(Array.from(await x.data()));
      same.dispose();
      seq.train();
      expect(d.training).toBe(true);
    } finally {
      x.dispose();
    }
  });
});

/** y = sin(x·a) + 0.5·x·b for fixed a, b: a smooth target an MLP can fit. */
function makeData(n: number, gen: T.Generator) {
  return T.scope(() => {
    const x = T.randn([n, 4], 0, 1, gen);
    const a = T.tensor([[0.9], [-0.5], [0.3], [0.7]]);
    const b = T.tensor([[0.2], [0.4], [-0.6], [0.1]]);
    const y = T.add(T.sin(T.matmul(x, a)), T.mul(T.matmul(x, b), 0.5));
    return { x: T.keep(x), y: T.keep(y) };
  });
}

function mlp(gen: T.Generator) {
  return new nn.Sequential(new nn.Linear(4, 32, { generator: gen }), new nn.GELU(), new nn.Linear(32, 1, { generator: gen }));
}

const mse = (pred: T.Tensor, y: T.Tensor) => T.mean(T.square(T.sub(pred, y)));

describe('training', () => {
  test('an MLP of nn modules trained with AdamW: the loss falls', async () => {
    const gen = new T.Generator(21);
    const model = mlp(gen);
    const { x, y } = makeData(256, gen);
    const opt = new T.AdamW(model.parameters(), { lr: 1e-2, weightDecay: 1e-4 }, { named: model.namedParameters() });
    expect(opt.groups[0].names).toEqual(['0.weight', '0.bias', '2.weight', '2.bias']);
    const losses: number[] = [];
    try {
      for (let s = 0; s < 150; s++) {
        const loss = T.scope(() => {
          const l = mse(model.forward(x), y);
          l.backward();
          return l;
        });
        if (s % 10 === 0 || s === 149) losses.push(await loss.item());
        loss.dispose();
        opt.step();
        opt.zeroGrad();
      }
      expect(losses[losses.length - 1]).toBeLessThan(0.1 * losses[0]);
      for (let i = 1; i < losses.length; i++) expect(losses[i]).toBeLessThan(losses[i - 1] * 1.05);
    } finally {
      opt.dispose();
      model.dispose();
      x.dispose();
      y.dispose();
    }
  });

  test('a frozen subtree gets no gradient and is not updated', async () => {
    const gen = new T.Generator(22);
    const model = mlp(gen);
    const { x, y } = makeData(64, gen);
    const first = model.at(0) as T.nn.Linear;
    const last = model.at(2) as T.nn.Linear;
    first.requiresGrad_(false);
    const opt = new T.AdamW(model.parameters(), { lr: 1e-2 });
    try {
      const w0 = Array.from(await first.weight.data());
      const w2 = Array.from(await last.weight.data());
      T.scope(() => mse(model.forward(x), y).backward());
      expect(first.weight.grad).toBeNull();
      expect(first.bias!.grad).toBeNull();
      expect(last.weight.grad).not.toBeNull();
      opt.step();
      expect(Array.from(await first.weight.data())).toEqual(w0);
      expect(Array.from(await last.weight.data())).not.toEqual(w2);
      opt.zeroGrad();
      first.requiresGrad_(true);
      T.scope(() => mse(model.forward(x), y).backward());
      expect(first.weight.grad).not.toBeNull();
      model.zeroGrad();
      expect(first.weight.grad).toBeNull();
    } finally {
      opt.dispose();
      model.dispose();
      x.dispose();
      y.dispose();
    }
  });

  test('dispose frees every parameter and buffer', () => {
    const m = new TinyViT(4, 2, new T.Generator(0));
    const all = [...m.parameters(), ...m.namedBuffers().map(([, t]) => t)];
    m.dispose();
    expect(all.length).toBe(1 + 2 * 12 + 2 + 1 + 2);
    expect(all.every((t) => t.disposed)).toBe(true);
  });
});

describe('memory', () => {
  test('building, training, loading and disposing a model leaves no live tensors', async () => {
    T.setLeakTracking(true);
    try {
      const gen = new T.Generator(30);
      const model = new nn.Sequential(new nn.Linear(4, 8, { generator: gen }), new nn.GELU(), new nn.Dropout(0.1, gen), new nn.LayerNorm(8), new nn.Linear(8, 1, { generator: gen }));
      const copy = new nn.Sequential(new nn.Linear(4, 8), new nn.GELU(), new nn.Dropout(0.1), new nn.LayerNorm(8), new nn.Linear(8, 1));
      const { x, y } = makeData(16, gen);
      const opt = new T.AdamW(model.parameters(), { lr: 1e-3 });
      for (let s = 0; s < 2; s++) {
        T.scope(() => mse(model.forward(x), y).backward());
        opt.step();
        opt.zeroGrad();
      }
      copy.loadStateDict(model.stateDict());
      opt.dispose();
      model.dispose();
      copy.dispose();
      x.dispose();
      y.dispose();
      expect(T.liveTensors().map((l) => `${l.op} [${l.shape}]\n${l.stack}`)).toEqual([]);
    } finally {
      T.setLeakTracking(false);
    }
  });
});
