import { concat, interpolate, permute, reshape, scope, slice, type Tensor } from '@seco/tensor';

/**
 * SeCo's prepare_tokens position embedding: the cls entry, then the (gh × gw) grid resized bicubically
 * (align_corners=False, a = −0.75) to the input's (h × w) patch grid. pos (1, 1 + gh·gw, D) → (1, 1 + h·w, D).
 * Always resized, even to the same size (PyTorch's bicubic is then the identity).
 */
export function resizePosEmbed(pos: Tensor, grid: readonly [number, number], h: number, w: number): Tensor {
  const D = pos.shape[2];
  const [gh, gw] = grid;
  return scope(() => {
    const cls = slice(pos, [null, [0, 1]]);
    const g = permute(reshape(slice(pos, [null, [1]]), [1, gh, gw, D]), [0, 3, 1, 2]);
    const r = interpolate(g, { size: [h, w], mode: 'bicubic', alignCorners: false });
    return concat([cls, reshape(permute(r, [0, 2, 3, 1]), [1, h * w, D])], 1);
  });
}
