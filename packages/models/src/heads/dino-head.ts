import { type Generator, nn, normalize, scope, type Tensor } from '@seco/tensor';
import { timmLinear } from '../vit/linear.ts';

export interface DINOHeadOptions {
  hiddenDim?: number;
  bottleneckDim?: number;
  generator?: Generator;
}

/**
 * SeCo's DINOHead with nlayers 3: Linear → GELU → Linear → GELU → Linear (names mlp.0, mlp.2, mlp.4), then
 * L2-normalised rows. The weight-normed last_layer is built by SeCo but never used in forward, so it is left out.
 */
export class DINOHead extends nn.Module {
  readonly mlp: nn.Sequential;

  constructor(inDim: number, options: DINOHeadOptions = {}) {
    super();
    const hidden = options.hiddenDim ?? 2048;
    const out = options.bottleneckDim ?? 768;
    const g = options.generator;
    this.mlp = this.registerModule(
      'mlp',
      new nn.Sequential(timmLinear(inDim, hidden, g), new nn.GELU(), timmLinear(hidden, hidden, g), new nn.GELU(), timmLinear(hidden, out, g)),
    );
  }

  forward(x: Tensor): Tensor {
    return scope(() => normalize(this.mlp.forward(x), { dim: -1, eps: 1e-12 }));
  }
}
