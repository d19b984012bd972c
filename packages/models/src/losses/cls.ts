import { cast, multilabelSoftMarginLoss, scope, type Tensor } from '@seco/tensor';
import { expectFloat, expectRank, fail } from './check.ts';

/**
 * SeCo's classification loss, F.multilabel_soft_margin_loss(cls, cls_label):
 * mean_b mean_c −[y log σ(x) + (1−y) log(1−σ(x))]. Used for both `cls` and `cls_aux`.
 * Integer labels are accepted and cast (the dataset yields multi-hot integer vectors).
 */
export function clsLoss(logits: Tensor, labels: Tensor): Tensor {
  const op = 'clsLoss';
  expectRank(op, 'logits', logits, 2, '(B, C)');
  expectFloat(op, 'logits', logits);
  expectRank(op, 'labels', labels, 2, '(B, C)');
  if (logits.shape[0] !== labels.shape[0] || logits.shape[1] !== labels.shape[1]) {
    fail(op, 'logits and labels must have the same shape', logits.shape, labels.shape);
  }
  return scope(() => multilabelSoftMarginLoss(logits, labels.dtype === 'f32' ? labels : cast(labels, 'f32')));
}
