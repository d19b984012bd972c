import { adaptiveMaxPool2d, type Generator, linear, matmul, nn, reshape, scope, type Tensor, TensorError } from '@seco/tensor';

/**
 * SeCo's classifier / aux_classifier: Conv2d(D, C, 1, bias=False) with PyTorch's default init, applied after
 * a global max pool (the hard-coded F.adaptive_max_pool2d(·, 1)). As 1×1 convs they are matmuls over channels.
 */
export class Classifier1x1 extends nn.Module {
  readonly weight: Tensor;

  constructor(
    readonly inChannels: number,
    readonly numClasses: number,
    gen?: Generator,
  ) {
    super();
    this.weight = this.registerParameter('weight', nn.kaimingUniform([numClasses, inChannels, 1, 1], Math.sqrt(5), gen));
  }

  private check(x: Tensor): void {
    if (x.rank !== 4 || x.shape[1] !== this.inChannels) {
      throw new TensorError('Classifier1x1', `expects feature maps (B, ${this.inChannels}, h, w), got [${x.shape.join(', ')}]`);
    }
  }

  /** (B, D, h, w) → (B, C) logits: classifier(GMP(x)). */
  forward(x: Tensor): Tensor {
    this.check(x);
    const [B, D] = x.shape;
    return scope(() => linear(reshape(adaptiveMaxPool2d(x, 1), [B, D]), reshape(this.weight, [this.numClasses, D])));
  }

  /** conv2d(x, weight): (B, D, h, w) → (B, C, h, w) class activation maps, no ReLU (SeCo's cam_only path). */
  cam(x: Tensor): Tensor {
    this.check(x);
    const [B, D, h, w] = x.shape;
    return scope(() => reshape(matmul(reshape(this.weight, [this.numClasses, D]), reshape(x, [B, D, h * w])), [B, this.numClasses, h, w]));
  }
}
