import { type Conv2dOptions, conv2d, type Pair } from '../ops/conv.ts';
import { TensorError } from '../errors.ts';
import type { Generator } from '../random.ts';
import type { Tensor } from '../tensor.ts';
import { biasUniform, kaimingUniform } from './init.ts';
import { Module } from './module.ts';

export interface Conv2dModuleOptions extends Conv2dOptions {
  bias?: boolean;
  generator?: Generator;
}

/**
 * torch.nn.Conv2d (groups 1, zero padding): weight [out, in, kH, kW] from kaiming_uniform(a = √5), bias from
 * U(±1/√fan_in), named `weight` and `bias` as in torch/timm state dicts.
 */
export class Conv2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly kernelSize: [number, number];
  readonly options: Conv2dOptions;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: Pair,
    options: Conv2dModuleOptions = {},
  ) {
    super();
    this.kernelSize = typeof kernelSize === 'number' ? [kernelSize, kernelSize] : [kernelSize[0], kernelSize[1]];
    const sizes = [inChannels, outChannels, ...this.kernelSize];
    if (sizes.some((v) => !Number.isInteger(v) || v <= 0)) {
      throw new TensorError('Conv2d', `channels and kernel size must be positive integers, got in ${inChannels}, out ${outChannels}, kernel ${JSON.stringify(kernelSize)}`);
    }
    const { bias, generator, ...conv } = options;
    this.options = conv;
    const shape = [outChannels, inChannels, ...this.kernelSize];
    this.weight = this.registerParameter('weight', kaimingUniform(shape, Math.sqrt(5), generator));
    const fan = inChannels * this.kernelSize[0] * this.kernelSize[1];
    this.bias = this.registerParameter('bias', bias === false ? null : biasUniform([outChannels], fan, generator));
  }

  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, this.options);
  }
}
