import { TensorError } from '../errors.ts';
import { dropout } from '../ops/dropout.ts';
import { defaultGenerator, type Generator } from '../random.ts';
import type { Tensor } from '../tensor.ts';
import { Module } from './module.ts';

/** torch.nn.Dropout over the engine's fused dropout op: active only in train mode. */
export class Dropout extends Module {
  constructor(
    readonly p = 0.5,
    readonly generator: Generator = defaultGenerator,
  ) {
    super();
    if (!(p >= 0 && p <= 1)) throw new TensorError('Dropout', `p must be in [0, 1], got ${p}`);
  }

  forward(x: Tensor): Tensor {
    return dropout(x, this.p, this.training, this.generator);
  }
}
