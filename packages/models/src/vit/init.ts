// Initialisers the PyTorch side uses and nn/init.ts does not have yet.
import { clamp, type Generator, defaultGenerator, randn, type Shape, type Tensor, scope } from '@seco/tensor';

/**
 * timm's trunc_normal_(std, a=-2, b=2): the bounds are absolute, so at std 0.02 they sit 100σ out and the
 * draw is a plain normal; the clamp only guards the bounds (it differs from resampling only beyond them).
 */
export function truncNormal(shape: Shape, std = 0.02, a = -2, b = 2, gen: Generator = defaultGenerator): Tensor {
  return scope(() => clamp(randn(shape, 0, std, gen), a, b));
}
