import { gelu } from '../ops/elementwise.ts';
import type { Tensor } from '../tensor.ts';
import { Module } from './module.ts';

/** torch.nn.GELU() with the exact erf (approximate='none'), as timm's ViT MLP. */
export class GELU extends Module {
  forward(x: Tensor): Tensor {
    return gelu(x);
  }
}
