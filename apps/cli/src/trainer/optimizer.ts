// The one source of the learning rates (SeCo's and ToCo's alike): PolyWarmupAdamW over the network's four groups,
// whose initial lrs are train.lr (encoder) and train.lr × head_lr_mult (heads, decoder); its schedule scales them
// before every step.
import type { WsssNetwork } from '@seco/models';
import { PolyWarmupAdamW } from '@seco/tensor';
import type { SecoConfig } from '../config/schema.ts';

export function secoOptimizer(net: WsssNetwork, config: SecoConfig): PolyWarmupAdamW {
  const t = config.train;
  return new PolyWarmupAdamW(
    net.paramGroups(t.lr, t.weight_decay, t.head_lr_mult),
    { lr: t.lr, betas: t.betas as [number, number], eps: t.eps, weightDecay: t.weight_decay },
    { warmupIter: t.warmup_iters, maxIter: t.max_iters, warmupRatio: t.warmup_ratio, power: t.poly_power },
    { named: net.namedParameters() },
  );
}
