import { contiguous, type Generator, nn, scope, type Tensor, TensorError, transpose } from '@seco/tensor';
import { castLike } from '../precision.ts';

/**
 * timm's PatchEmbed: Conv2d(C, D, p, stride p) (rows and columns past the last whole patch are dropped, as
 * PyTorch's conv does), flattened to (B, h·w, D) tokens in row-major patch order.
 */
export class PatchEmbed extends nn.Module {
  readonly proj: nn.Conv2d;
  constructor(
    readonly inChans: number,
    embedDim: number,
    readonly patch: number,
    gen?: Generator,
  ) {
    super();
    // timm's init leaves the patch conv at PyTorch's Conv2d default.
    this.proj = this.registerModule('proj', new nn.Conv2d(inChans, embedDim, patch, { stride: patch, generator: gen }));
  }

  /** Checks an NCHW image; returns the patch grid (h, w). */
  grid(x: Tensor): [number, number] {
    const p = this.patch;
    if (x.rank !== 4 || x.shape[1] !== this.inChans) {
      throw new TensorError('ViT', `expects images (B, ${this.inChans}, H, W), got [${x.shape.join(', ')}]`);
    }
    const [, , H, W] = x.shape;
    if (H < p || W < p) throw new TensorError('ViT', `image ${H}×${W} is smaller than one ${p}×${p} patch`);
    return [Math.floor(H / p), Math.floor(W / p)];
  }

  forward(x: Tensor): Tensor {
    return scope(() => {
      // The image enters in the weights' dtype (f16 in a mixed-precision student).
      const y = this.proj.forward(castLike(x, this.proj.weight));
      const [B, D, h, w] = y.shape;
      return contiguous(transpose(y.reshape([B, D, h * w]), 1, 2));
    });
  }
}
