import { add, type Generator, nn, scope, type Tensor } from '@seco/tensor';
import { Attention } from './attention.ts';
import { timmLinear } from './linear.ts';

/** timm's Mlp: fc1 → exact GELU → fc2 (drop 0). */
export class Mlp extends nn.Module {
  readonly fc1: nn.Linear;
  readonly act: nn.GELU;
  readonly fc2: nn.Linear;
  constructor(dim: number, hidden: number, gen?: Generator) {
    super();
    this.fc1 = this.registerModule('fc1', timmLinear(dim, hidden, gen));
    this.act = this.registerModule('act', new nn.GELU());
    this.fc2 = this.registerModule('fc2', timmLinear(hidden, dim, gen));
  }
  forward(x: Tensor): Tensor {
    return scope(() => this.fc2.forward(this.act.forward(this.fc1.forward(x))));
  }
}

/** Pre-norm block: x + attn(norm1(x)), then + mlp(norm2(x)); LayerNorm eps 1e-6, no drop-path. */
export class Block extends nn.Module {
  readonly norm1: nn.LayerNorm;
  readonly attn: Attention;
  readonly norm2: nn.LayerNorm;
  readonly mlp: Mlp;
  constructor(dim: number, numHeads: number, mlpRatio: number, eps: number, gen?: Generator) {
    super();
    this.norm1 = this.registerModule('norm1', new nn.LayerNorm(dim, { eps }));
    this.attn = this.registerModule('attn', new Attention(dim, numHeads, true, gen));
    this.norm2 = this.registerModule('norm2', new nn.LayerNorm(dim, { eps }));
    this.mlp = this.registerModule('mlp', new Mlp(dim, Math.round(dim * mlpRatio), gen));
  }
  forward(x: Tensor): Tensor {
    return scope(() => {
      const h = add(x, this.attn.forward(this.norm1.forward(x)));
      return add(h, this.mlp.forward(this.norm2.forward(h)));
    });
  }
}
