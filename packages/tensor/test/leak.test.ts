import { beforeAll, expect, test } from 'vitest';
import * as T from '../src/index.ts';
import { nn } from '../src/index.ts';

beforeAll(async () => {
  await T.init();
});

// The leak check of the engine: after a warm-up step (optimizer state is allocated once), 100 training steps
// end with exactly the buffers and tensors they started with, whether or not the step runs inside scope().
test('100 training steps of a small model leave no buffer or tensor behind', async () => {
  const gen = new T.Generator(3);
  const model = new nn.Sequential(new nn.Linear(13, 37, { generator: gen }), new nn.GELU(), new nn.LayerNorm(37), new nn.Linear(37, 7, { generator: gen }));
  const x = T.randn([29, 13], 0, 1, gen);
  const labels = T.tensor(Int32Array.from({ length: 29 }, (_, i) => (i * 5) % 7));
  const opt = new T.AdamW(model.parameters(), { lr: 3e-3 });
  const step = (inScope: boolean) => {
    const body = () => {
      const logits = model.forward(x);
      const loss = T.crossEntropy(logits, labels);
      loss.backward();
      return loss;
    };
    let loss: T.Tensor;
    if (inScope) loss = T.scope(body);
    else {
      // Without scope the caller disposes what it made; backward must have freed the graph's own tensors.
      const logits = model.forward(x);
      loss = T.crossEntropy(logits, labels);
      loss.backward();
      logits.dispose();
    }
    opt.step();
    opt.zeroGrad();
    return loss;
  };
  T.setLeakTracking(true);
  try {
    step(true).dispose();
    await T.engine().sync();
    const before = T.memoryStats();
    let first = NaN;
    let last = NaN;
    for (let i = 0; i < 100; i++) {
      const loss = step(i % 2 === 0);
      if (i === 0) first = await loss.item();
      if (i === 99) last = await loss.item();
      loss.dispose();
    }
    await T.engine().sync();
    const after = T.memoryStats();
    const leaked = T.liveTensors().filter((t) => t.id > 0).length - before.liveTensors;
    expect(leaked, JSON.stringify(T.liveTensors().slice(-5))).toBe(0);
    expect(after.liveBuffers).toBe(before.liveBuffers);
    expect(after.liveBytes).toBe(before.liveBytes);
    expect(last).toBeLessThan(first);
  } finally {
    T.setLeakTracking(false);
    opt.dispose();
    model.dispose();
    x.dispose();
    labels.dispose();
  }
});
