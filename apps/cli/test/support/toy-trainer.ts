// A small real training run on the engine (MLP + AdamW + seeded data + a queue-like buffer + a data position),
// standing in for SeCo's trainer so checkpointing and resuming are tested on real GPU state.
import * as T from '@seco/tensor';
import { composeTrainState, type TrainState } from '../../src/checkpoint/train-state.ts';
import type { StepPoint } from '@seco/models';
import type { Trainer } from '../../src/train-loop.ts';

export class ToyTrainer implements Trainer {
  readonly gen: T.Generator;
  readonly model: T.nn.Sequential;
  readonly opt: T.AdamW;
  readonly queue: T.Tensor;
  position = { epoch: 0, step: 0 };
  readonly state: TrainState;
  /** Throws when asked to run this iteration (a simulated crash). */
  crashAt = -1;

  /** Watches the loss on the GPU each step, as the SeCo trainer does (see divergence()). */
  readonly watch = new T.NonFiniteWatch();

  constructor(seed: number, lr = 1e-2) {
    this.gen = new T.Generator(seed);
    this.model = new T.nn.Sequential(new T.nn.Linear(4, 8, { generator: this.gen }), new T.nn.GELU(), new T.nn.Linear(8, 3, { generator: this.gen }));
    this.opt = new T.AdamW(this.model.parameters(), { lr });
    this.queue = T.keep(T.zeros([6, 3]));
    this.state = composeTrainState({
      modules: { model: this.model },
      optimizers: { optim: this.opt },
      buffers: { queue: this.queue },
      generators: { engine: this.gen },
      json: { data: { get: () => ({ ...this.position }), set: (v) => (this.position = v as { epoch: number; step: number }) } },
    });
  }

  async step(iteration: number, _point: StepPoint, read: boolean): Promise<Record<string, number> | null> {
    if (iteration === this.crashAt) throw new Error(`simulated crash at iteration ${iteration}`);
    this.position.step++;
    const [loss, aux] = T.scope(() => {
      const x = T.randn([5, 4], 0, 1, this.gen);
      const labels = T.tensor(Int32Array.from({ length: 5 }, (_, i) => (i + iteration) % 3));
      const logits = this.model.forward(x);
      const l = T.crossEntropy(logits, labels);
      this.watch.watch(iteration, 0, l);
      l.backward();
      // The newest logits go into a ring buffer, as SeCo's queue does with keys.
      const row = iteration % 6;
      const next = T.concat([T.narrow(this.queue, 0, 0, row), T.narrow(T.detach(logits), 0, 0, 1), T.narrow(this.queue, 0, row + 1, 5 - row)], 0);
      T.copyInto(this.queue, next);
      return [T.keep(l), T.keep(T.mean(T.square(T.detach(logits))))];
    });
    this.opt.step();
    this.opt.zeroGrad();
    try {
      return read ? { cls: await loss.item(), ptc: await aux.item() } : null;
    } finally {
      loss.dispose();
      aux.dispose();
    }
  }

  async divergence(): Promise<{ iteration: number; term: string } | null> {
    const at = await this.watch.take();
    return at && { iteration: at.step, term: 'cls' };
  }

  learningRate(): number {
    return this.opt.groups[0].lr;
  }

  async snapshot(): Promise<Record<string, number[]>> {
    const out: Record<string, number[]> = {};
    for (const [k, v] of Object.entries(this.state.tensors())) out[k] = Array.from(await (v as T.Tensor).data());
    return out;
  }

  dispose(): void {
    this.watch.dispose();
    this.model.dispose();
    this.queue.dispose();
  }
}
