// Trains a small MLP on generated data with the engine and prints the falling loss.
import * as T from '../src/index.ts';
import { nn } from '../src/index.ts';

const engine = await T.init();
console.log(`adapter: ${engine.adapterDescription}`);
const gen = new T.Generator(0);

// Targets from a fixed random 2-layer teacher network: learnable, not linear.
const { x, y } = T.scope(() => {
  const x = T.randn([1024, 16], 0, 1, gen);
  const w1 = T.randn([16, 32], 0, 0.5, gen);
  const w2 = T.randn([32, 1], 0, 0.5, gen);
  return { x, y: T.matmul(T.tanh(T.matmul(x, w1)), w2) };
});

const model = new nn.Sequential(
  new nn.Linear(16, 64, { generator: gen }),
  new nn.GELU(),
  new nn.LayerNorm(64),
  new nn.Linear(64, 1, { generator: gen }),
);
const opt = new T.AdamW(model.parameters(), { lr: 3e-3, weightDecay: 1e-4 });
const start = performance.now();
for (let step = 0; step <= 300; step++) {
  const loss = T.scope(() => {
    const l = T.mean(T.square(T.sub(model.forward(x), y)));
    l.backward();
    return l;
  });
  opt.step();
  opt.zeroGrad();
  if (step % 30 === 0) console.log(`step ${String(step).padStart(3)}  loss ${(await loss.item()).toFixed(5)}`);
  loss.dispose();
}
const s = (performance.now() - start) / 1000;
const stats = T.memoryStats();
console.log(`301 steps in ${s.toFixed(1)} s; ${stats.dispatches} dispatches, ${stats.submits} submits, ${stats.pipelines} pipelines`);
opt.dispose();
model.dispose();
x.dispose();
y.dispose();
T.shutdown();
