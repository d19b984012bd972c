import { add, cast, cosineSimilarityMatrix, div, eq, mul, reshape, scope, sub, sum, type Tensor, where } from '@seco/tensor';
import { expectFloat, expectRank, fail } from './check.ts';

/**
 * Patch-token contrast (ToCo's get_masked_ptc_loss), exactly as SeCo computes it:
 *   cos = |normalize(x_i, eps 1e-8) · normalize(x_j)| over the h·w tokens of each image,
 *   L = 0.5·(1 − Σ_pos cos / (|pos| + 1)) + 0.5·Σ_neg cos / (|neg| + 1),
 * with pos = (affMask == 1), neg = (affMask == 0); anything else (255: ignored labels, the diagonal) is left
 * out. Both sums and both counts run over the whole batch, not per image.
 *
 * fmap (B, C, h, w) are the final patch tokens as a map; affMask (B, h·w, h·w) comes from label_to_aff_mask.
 */
export function ptcLoss(fmap: Tensor, affMask: Tensor): Tensor {
  const op = 'ptcLoss';
  expectRank(op, 'fmap', fmap, 4, '(B, C, h, w)');
  expectFloat(op, 'fmap', fmap);
  const [B, C, h, w] = fmap.shape;
  const n = h * w;
  if (affMask.rank !== 3 || affMask.shape[0] !== B || affMask.shape[1] !== n || affMask.shape[2] !== n) {
    fail(op, `affMask must be (B, h·w, h·w) = (${B}, ${n}, ${n}) for this fmap`, fmap.shape, affMask.shape);
  }
  return scope(() => {
    // Features are columns (B, C, n): normalise along C, as F.normalize(dim=1).
    const cos = cosineSimilarityMatrix(reshape(fmap, [B, C, n]), null, { dim: -2, eps: 1e-8, abs: true });
    const pos = eq(affMask, 1);
    const neg = eq(affMask, 0);
    const posTerm = div(sum(where(pos, cos, 0)), add(cast(sum(pos), 'f32'), 1));
    const negTerm = div(sum(where(neg, cos, 0)), add(cast(sum(neg), 'f32'), 1));
    return add(mul(sub(1, posTerm), 0.5), mul(negTerm, 0.5));
  });
}
