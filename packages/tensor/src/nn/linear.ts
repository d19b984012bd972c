import { linear } from '../ops/matmul.ts';
import type { Generator } from '../random.ts';
import type { Tensor } from '../tensor.ts';
import { biasUniform, kaimingUniform } from './init.ts';
import { Module } from './module.ts';

export interface LinearOptions {
  bias?: boolean;
  generator?: Generator;
}

/** torch.nn.Linear: weight [out, in], bias [out], both initialised as PyTorch does. */
export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    options: LinearOptions = {},
  ) {
    super();
    this.weight = this.registerParameter('weight', kaimingUniform([outFeatures, inFeatures], Math.sqrt(5), options.generator));
    this.bias = this.registerParameter('bias', options.bias === false ? null : biasUniform([outFeatures], inFeatures, options.generator));
  }

  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
}
