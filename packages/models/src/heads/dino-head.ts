import { type Generator, nn, normalize, ones, requireGrad, scope, type Tensor, zeros } from '@seco/tensor';
import { castLike, widen } from '../precision.ts';
import { timmLinear } from '../vit/linear.ts';

export interface DINOHeadOptions {
  hiddenDim?: number;
  bottleneckDim?: number;
  /** out_dim of the unused last_layer (SeCo: 768). */
  outDim?: number;
  generator?: Generator;
}

/** weight_norm(Linear(bottleneck, out, bias=False)) as torch stores it: weight_g (out, 1), weight_v (out, in). */
class WeightNormLinear extends nn.Module {
  constructor(inDim: number, outDim: number) {
    super();
    // DINOHead fills weight_g with 1 and, with norm_last_layer (the default), freezes it.
    requireGrad(this.registerParameter('weight_g', ones([outDim, 1])), false);
    // Never used: zeros draw nothing from the generator, so every other initial weight stays as it was.
    this.registerParameter('weight_v', zeros([outDim, inDim]));
  }

  forward(): Tensor {
    throw new Error('DINOHead.last_layer is never used in forward (as in SeCo)');
  }
}

/**
 * SeCo's DINOHead with nlayers 3: Linear → GELU → Linear → GELU → Linear (names mlp.0, mlp.2, mlp.4), then
 * L2-normalised rows. The weight-normed last_layer is built by SeCo but never used in forward: it is kept only
 * so the state_dict (and released checkpoints) match SeCo's key for key; it never gets a gradient.
 */
export class DINOHead extends nn.Module {
  readonly mlp: nn.Sequential;
  private readonly first: nn.Linear;

  constructor(inDim: number, options: DINOHeadOptions = {}) {
    super();
    const hidden = options.hiddenDim ?? 2048;
    const out = options.bottleneckDim ?? 768;
    const g = options.generator;
    this.first = timmLinear(inDim, hidden, g);
    this.mlp = this.registerModule('mlp', new nn.Sequential(this.first, new nn.GELU(), timmLinear(hidden, hidden, g), new nn.GELU(), timmLinear(hidden, out, g)));
    this.registerModule('last_layer', new WeightNormLinear(out, options.outDim ?? out));
  }

  forward(x: Tensor): Tensor {
    // The MLP runs in its weights' dtype; the L2 normalisation always in f32 (autocast's fp32 list).
    return scope(() => normalize(widen(this.mlp.forward(castLike(x, this.first.weight))), { dim: -1, eps: 1e-12 }));
  }
}
