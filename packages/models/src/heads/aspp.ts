import { add, copyInto, type Generator, nn, randn, scope, type Tensor, zeros } from '@seco/tensor';

export const ASPP_RATES = [6, 12, 18, 24] as const;

/**
 * SeCo's DeepLab-v2 ASPP (model/decoder/conv_head.py): four 3×3 convs with padding = dilation = r, summed.
 * Init as SeCo: weights N(0, 0.01), biases 0.
 */
export class ASPP extends nn.Module {
  readonly branches: nn.Conv2d[];

  constructor(inPlanes: number, outPlanes: number, rates: readonly number[] = ASPP_RATES, gen?: Generator) {
    super();
    this.branches = rates.map((r, i) => {
      const c = this.registerModule(`c${i}`, new nn.Conv2d(inPlanes, outPlanes, 3, { padding: r, dilation: r, generator: gen }));
      scope(() => {
        copyInto(c.weight, randn(c.weight.shape, 0, 0.01, gen));
        copyInto(c.bias!, zeros(c.bias!.shape));
      });
      return c;
    });
  }

  forward(x: Tensor): Tensor {
    return scope(() => this.branches.map((c) => c.forward(x)).reduce((a, b) => add(a, b)));
  }
}
