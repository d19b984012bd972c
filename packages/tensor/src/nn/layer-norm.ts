import { full } from '../ops/creation.ts';
import { layerNorm } from '../ops/norm.ts';
import type { Tensor } from '../tensor.ts';
import { Module } from './module.ts';

export interface LayerNormOptions {
  eps?: number;
  elementwiseAffine?: boolean;
  bias?: boolean;
}

/** torch.nn.LayerNorm: weight ones, bias zeros over normalizedShape; timm's ViT uses eps 1e-6. */
export class LayerNorm extends Module {
  readonly normalizedShape: number[];
  readonly eps: number;
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;

  constructor(normalizedShape: number | readonly number[], options: LayerNormOptions = {}) {
    super();
    this.normalizedShape = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
    this.eps = options.eps ?? 1e-5;
    const affine = options.elementwiseAffine ?? true;
    this.weight = this.registerParameter('weight', affine ? full(this.normalizedShape, 1) : null);
    this.bias = this.registerParameter('bias', affine && options.bias !== false ? full(this.normalizedShape, 0) : null);
  }

  forward(x: Tensor): Tensor {
    return layerNorm(x, this.normalizedShape, this.weight, this.bias, this.eps);
  }
}
