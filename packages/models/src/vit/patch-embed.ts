import { type Generator, linear, nn, permute, reshape, scope, slice, type Tensor, TensorError } from '@seco/tensor';

/**
 * Conv2d(C, D, p, stride p) as a matmul: with stride == kernel the patches do not overlap, so they are a
 * view/permute of the image. Rows and columns past the last whole patch are dropped, as PyTorch's conv does.
 * Returns (B, h·w, D) tokens in row-major patch order (the conv output flattened and transposed).
 * TODO(conv2d): switch to the fused conv2d once ops/conv.ts lands.
 */
export function patchConv(x: Tensor, weight: Tensor, bias: Tensor | null, patch: number): Tensor {
  const [B, C, H, W] = x.shape;
  const h = Math.floor(H / patch);
  const w = Math.floor(W / patch);
  const D = weight.shape[0];
  return scope(() => {
    const cropped = h * patch === H && w * patch === W ? x : slice(x, [null, null, [0, h * patch], [0, w * patch]]);
    const six = reshape(cropped, [B, C, h, patch, w, patch]);
    const patches = reshape(permute(six, [0, 2, 4, 1, 3, 5]), [B, h * w, C * patch * patch]);
    return linear(patches, reshape(weight, [D, C * patch * patch]), bias);
  });
}

/** The conv's parameters under timm's names (patch_embed.proj.weight / .bias). */
export class PatchProj extends nn.Module {
  readonly weight: Tensor;
  readonly bias: Tensor;
  constructor(
    readonly inChans: number,
    readonly embedDim: number,
    readonly patch: number,
    gen?: Generator,
  ) {
    super();
    // timm's init leaves the patch conv at PyTorch's Conv2d default.
    const fan = inChans * patch * patch;
    this.weight = this.registerParameter('weight', nn.kaimingUniform([embedDim, inChans, patch, patch], Math.sqrt(5), gen));
    this.bias = this.registerParameter('bias', nn.biasUniform([embedDim], fan, gen));
  }
  forward(x: Tensor): Tensor {
    return patchConv(x, this.weight, this.bias, this.patch);
  }
}

export class PatchEmbed extends nn.Module {
  readonly proj: PatchProj;
  constructor(inChans: number, embedDim: number, readonly patch: number, gen?: Generator) {
    super();
    this.proj = this.registerModule('proj', new PatchProj(inChans, embedDim, patch, gen));
  }

  /** Checks an NCHW image; returns the patch grid (h, w). */
  grid(x: Tensor): [number, number] {
    const p = this.patch;
    if (x.rank !== 4 || x.shape[1] !== this.proj.inChans) {
      throw new TensorError('ViT', `expects images (B, ${this.proj.inChans}, H, W), got [${x.shape.join(', ')}]`);
    }
    const [, , H, W] = x.shape;
    if (H < p || W < p) throw new TensorError('ViT', `image ${H}×${W} is smaller than one ${p}×${p} patch`);
    return [Math.floor(H / p), Math.floor(W / p)];
  }

  forward(x: Tensor): Tensor {
    return this.proj.forward(x);
  }
}
