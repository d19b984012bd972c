// Where a network's dtypes meet (mixed precision, docs/ALGORITHM.md "Mixed precision"): products run in the dtype
// of the module's weights (f16 for a mixed-precision student), and everything that reads a network's outputs
// (losses, CAM normalisation, PAR, cosine similarities) gets f32, as PyTorch's autocast lists decide per op.
// In f32 both helpers return their input itself: no dispatch, the f32 path is unchanged to the bit.
import { cast, type Tensor } from '@seco/tensor';

/** x in f32: an f16 tensor is cast (autograd-aware: its gradient goes back as f16), an f32 one is x itself. */
export function widen(x: Tensor): Tensor {
  return x.dtype === 'f16' ? cast(x, 'f32') : x;
}

/** x in the float dtype of `weight` (the module it enters): cast when they differ, else x itself. */
export function castLike(x: Tensor, weight: Tensor): Tensor {
  return x.dtype === weight.dtype ? x : cast(x, weight.dtype);
}
