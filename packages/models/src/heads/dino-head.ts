import { type Generator, linear, mul, nn, normalize, ones, requireGrad, scope, type Tensor, zeros } from '@seco/tensor';
import { castLike, widen } from '../precision.ts';
import { timmLinear } from '../vit/linear.ts';

export interface DINOHeadOptions {
  hiddenDim?: number;
  bottleneckDim?: number;
  /** out_dim of the last_layer (SeCo: 768, unused; ToCo: 1024). */
  outDim?: number;
  /**
   * Apply the weight-normed last_layer after the normalisation, as ToCo's CTCHead (DINO's head) does; SeCo
   * builds it but never calls it (false, the default).
   */
  lastLayer?: boolean;
  generator?: Generator;
}

/** weight_norm(Linear(bottleneck, out, bias=False)) as torch stores it: weight_g (out, 1), weight_v (out, in). */
class WeightNormLinear extends nn.Module {
  readonly weightG: Tensor;
  readonly weightV: Tensor;

  constructor(
    inDim: number,
    outDim: number,
    readonly used: boolean,
    gen?: Generator,
  ) {
    super();
    // DINOHead fills weight_g with 1 and, with norm_last_layer (the default), freezes it.
    this.weightG = requireGrad(this.registerParameter('weight_g', ones([outDim, 1])), false);
    // Unused (SeCo): zeros draw nothing from the generator, so every other initial weight stays as it was.
    // Used (ToCo): nn.Linear's default init, kaiming_uniform(a=√5), i.e. U(±1/√in).
    this.weightV = this.registerParameter('weight_v', used ? nn.kaimingUniform([outDim, inDim], Math.sqrt(5), gen) : zeros([outDim, inDim]));
  }

  /** x · (g · v / ‖v‖)ᵀ, the norm taken per output row (weight_norm's dim 0). */
  forward(x: Tensor): Tensor {
    if (!this.used) throw new Error('DINOHead.last_layer is never used in forward (as in SeCo)');
    // In f32 whatever the weights (autocast runs normalisations in f32): an f16 student's are widened here.
    return scope(() => linear(x, mul(normalize(widen(this.weightV), { dim: 1, eps: 1e-12 }), widen(this.weightG))));
  }
}

/**
 * DINO's head with nlayers 3, as SeCo (DINOHead) and ToCo (CTCHead) build it: Linear → GELU → Linear → GELU →
 * Linear (names mlp.0, mlp.2, mlp.4), then L2-normalised rows. SeCo builds the weight-normed last_layer but never
 * uses it: it is kept so the state_dict (and released checkpoints) match SeCo's key for key, and gets no
 * gradient. ToCo (`lastLayer: true`) applies it to the normalised rows.
 */
export class DINOHead extends nn.Module {
  readonly mlp: nn.Sequential;
  private readonly first: nn.Linear;
  private readonly lastLayer: WeightNormLinear;

  constructor(inDim: number, options: DINOHeadOptions = {}) {
    super();
    const hidden = options.hiddenDim ?? 2048;
    const out = options.bottleneckDim ?? 768;
    const g = options.generator;
    this.first = timmLinear(inDim, hidden, g);
    this.mlp = this.registerModule('mlp', new nn.Sequential(this.first, new nn.GELU(), timmLinear(hidden, hidden, g), new nn.GELU(), timmLinear(hidden, out, g)));
    this.lastLayer = this.registerModule('last_layer', new WeightNormLinear(out, options.outDim ?? out, options.lastLayer ?? false, g));
  }

  forward(x: Tensor): Tensor {
    // The MLP runs in its weights' dtype; the L2 normalisation always in f32 (autocast's fp32 list), and so does
    // the weight-normed last layer (a normalisation too) where a method uses it.
    return scope(() => {
      const z = normalize(widen(this.mlp.forward(castLike(x, this.first.weight))), { dim: -1, eps: 1e-12 });
      return this.lastLayer.used ? this.lastLayer.forward(z) : z;
    });
  }
}
