import { copyInto, type Generator, nn, scope, zeros } from '@seco/tensor';
import { truncNormal } from './init.ts';

/** nn.Linear with timm's ViT init (init_weights_vit_timm, also DINOHead's): trunc_normal std 0.02, bias 0. */
export function timmLinear(inFeatures: number, outFeatures: number, gen?: Generator): nn.Linear {
  const l = new nn.Linear(inFeatures, outFeatures, { generator: gen });
  scope(() => {
    copyInto(l.weight, truncNormal([outFeatures, inFeatures], 0.02, -2, 2, gen));
    copyInto(l.bias!, zeros([outFeatures]));
  });
  return l;
}
