// The loss terms of the forward every method shares (ToCo's design, kept by SeCo; docs/ALGORITHM.md §3.6):
// cls and cls_aux on the GMP logits, PTC on the final token map, seg on the logits upsampled to the crop.
import { scope, type Tensor } from '@seco/tensor';
import type { HeadOutputs } from '../cam-seg-forward.ts';
import { clsLoss } from '../losses/cls.ts';
import { ptcLoss } from '../losses/ptc.ts';
import { segLoss, upsampleLogits } from '../losses/seg.ts';

export type HeadLossTerm = 'cls' | 'cls_aux' | 'ptc' | 'seg';

export interface HeadLosses {
  terms: Partial<Record<HeadLossTerm, Tensor>>;
  /** (B, D) the student's final-LN cls token. */
  clsToken: Tensor;
  /** (B, C, S, S) seg logits at the crop size, kept for the energy loss when `withReg`; else null. */
  seg448: Tensor | null;
}

/**
 * The student's forward and its shared terms. seg (and the upsampled logits) only `withSeg`, i.e. while seg or the
 * energy loss weighs anything; `segLabel` is then required. Every returned tensor is the caller's to dispose.
 */
export function headLosses(
  net: { forward(x: Tensor): HeadOutputs },
  images: Tensor,
  clsLabel: Tensor,
  aff: Tensor,
  segLabel: Tensor | null,
  cropSize: number,
  withSeg: boolean,
  withReg: boolean,
): HeadLosses {
  return scope(() => {
    const out = net.forward(images);
    const terms: Partial<Record<HeadLossTerm, Tensor>> = {};
    terms.cls = clsLoss(out.cls, clsLabel);
    terms.cls_aux = clsLoss(out.clsAux, clsLabel);
    terms.ptc = ptcLoss(out.x4, aff);
    const seg448 = withSeg ? upsampleLogits(out.seg, [cropSize, cropSize]) : null;
    if (seg448) terms.seg = segLoss(seg448, segLabel!);
    return { terms, clsToken: out.clsToken, seg448: withReg ? seg448 : null };
  });
}
