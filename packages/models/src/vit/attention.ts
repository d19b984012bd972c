import { attention, type Generator, nn, permute, reshape, scope, type Tensor, unbind } from '@seco/tensor';
import { timmLinear } from './linear.ts';

/** timm's Attention: qkv Linear(D, 3D) split as (B, N, 3, heads, D/heads), softmax attention, proj. */
export class Attention extends nn.Module {
  readonly qkv: nn.Linear;
  readonly proj: nn.Linear;
  readonly scale: number;

  constructor(
    readonly dim: number,
    readonly numHeads: number,
    qkvBias = true,
    gen?: Generator,
  ) {
    super();
    if (!qkvBias) throw new Error('Attention: only qkv_bias=True (SeCo/timm ViT-B) is supported');
    this.qkv = this.registerModule('qkv', timmLinear(dim, dim * 3, gen));
    this.proj = this.registerModule('proj', timmLinear(dim, dim, gen));
    this.scale = (dim / numHeads) ** -0.5;
  }

  forward(x: Tensor): Tensor {
    const [B, N, D] = x.shape;
    const H = this.numHeads;
    return scope(() => {
      // (3, B, heads, N, d) as a view: q, k and v are read in place by the matmuls.
      const qkv = permute(reshape(this.qkv.forward(x), [B, N, 3, H, D / H]), [2, 0, 3, 1, 4]);
      // One backward node for the three (timm's qkv.unbind(0)): their gradients join in one concat.
      const [q, k, v] = unbind(qkv, 0);
      // Fused kernel: the N×N scores never reach memory, so the probabilities are not available for tracing.
      const o = attention(q, k, v, { scale: this.scale });
      return this.proj.forward(reshape(permute(o, [0, 2, 1, 3]), [B, N, D]));
    });
  }
}
