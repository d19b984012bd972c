import { add, cast, crossEntropy, div, eq, interpolate, logicalAnd, mul, ne, scope, sum, type Tensor, where } from '@seco/tensor';
import { expectFloat, expectRank, fail } from './check.ts';

/** Bilinear (align_corners=False) resize of decoder logits (B, C, h, w) to a label's [H, W], as SeCo's seg_448. */
export function upsampleLogits(logits: Tensor, size: readonly [number, number]): Tensor {
  expectRank('upsampleLogits', 'logits', logits, 4, '(B, C, h, w)');
  return interpolate(logits, { size, mode: 'bilinear', alignCorners: false });
}

/**
 * SeCo's get_seg_loss on logits (B, C, H, W) against labels (B, H, W) with ignoreIndex (255):
 *   L = 0.5·(Σ_bg CE / (#bg + 1e-6) + Σ_fg CE / (#fg + 1e-6)),
 * bg = label 0, fg = any other non-ignored label. Unlike a mean over an empty set (ToCo's NaN), an empty half
 * contributes 0. Logits of another size are first resized with upsampleLogits (as SeCo does before the call);
 * pass already-upsampled logits to share them with the energy loss.
 */
export function segLoss(pred: Tensor, label: Tensor, options: { ignoreIndex?: number } = {}): Tensor {
  const op = 'segLoss';
  const ignore = options.ignoreIndex ?? 255;
  expectRank(op, 'pred', pred, 4, '(B, C, h, w)');
  expectFloat(op, 'pred', pred);
  expectRank(op, 'label', label, 3, '(B, H, W)');
  if (label.dtype === 'f32') fail(op, 'label must hold integer class ids (i32 or u32), got f32', label.shape);
  if (pred.shape[0] !== label.shape[0]) fail(op, 'pred and label have different batch sizes', pred.shape, label.shape);
  const [H, W] = [label.shape[1], label.shape[2]];
  return scope(() => {
    const logits = pred.shape[2] === H && pred.shape[3] === W ? pred : upsampleLogits(pred, [H, W]);
    // One per-pixel CE serves both halves: a pixel's CE does not depend on which half it is counted in.
    const ce = crossEntropy(logits, label, { ignoreIndex: ignore, reduction: 'none' });
    const bg = eq(label, 0);
    const fg = logicalAnd(ne(label, 0), ne(label, ignore));
    const half = (m: Tensor) => div(sum(where(m, ce, 0)), add(cast(sum(m), 'f32'), 1e-6));
    return mul(add(half(bg), half(fg)), 0.5);
  });
}
