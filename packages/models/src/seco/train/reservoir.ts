// maintain_reservoir (§3.5.3): student views through the projection head, both EMAs, teacher keys, enqueue,
// and the contrast set [out_q, out_k, queue] with its flags.
import { concat, detach, indexSelect, noGrad, reshape, scope, type Tensor, tensor } from '@seco/tensor';
import type { SecoNetwork } from '../network.ts';
import { cropWindows } from '../../crop-windows.ts';
import { widen } from '../../precision.ts';
import type { CscTagPlan } from '../tags.ts';

export interface Reservoir {
  /** (12B, D) student projections [g0, g1, l0..l9] per image, with grad; null when not asked for. */
  outQ: Tensor | null;
  /** (12B + 12B + Q, D) queue_feats_all (the current keys appear twice: enqueue runs first, as SeCo). */
  feats: Tensor;
  /** (12B) tags of outQ and (12B + 12B + Q) of feats, i32. */
  flags: Tensor;
  flagsAll: Tensor;
}

/** Row order image-major [raw_i, w_i, crop0_i .. crop(n−1)_i] over rows [raw (B); w (B); crop-major crops (nB)]. */
function imageMajor(B: number, n: number): Tensor {
  const idx: number[] = [];
  for (let i = 0; i < B; i++) {
    idx.push(i, B + i);
    for (let k = 0; k < n; k++) idx.push(2 * B + k * B + i);
  }
  return tensor(idx, [idx.length], 'i32');
}

/** The student queries and the teacher keys of one step, before the keys are enqueued. */
export interface ReservoirKeys {
  /** (12B, D) student projections with grad, or null when not asked for. */
  outQ: Tensor | null;
  /** (12B, D) teacher keys, no grad. */
  outK: Tensor;
}

/**
 * clsRaw is the step-1 cls token of the raw image (SeCo encodes it again as global view 0; same value, so it is
 * reused). With `queries` false the student crops are not encoded (LIL and LIG weigh 0): the EMAs and the keys
 * still run every iteration as SeCo's do.
 */
export function reservoirKeys(net: SecoNetwork, clsRaw: Tensor, images: Tensor, strong: Tensor, global2: Tensor, plan: CscTagPlan, queries: boolean): ReservoirKeys {
  const B = plan.batch;
  const n = plan.cropNum;
  return scope(() => {
    const order = imageMajor(B, n);
    // Student cls tokens in f32 (widen: an f16 student's), so they meet the f32 teacher's keys and the losses.
    const g = concat([clsRaw, widen(net.encoder.forwardFeatures(global2).cls)], 0);
    let outQ: Tensor | null = null;
    if (queries) {
      const lq = widen(net.encoder.forwardFeatures(concat(cropWindows(images, plan), 0)).cls);
      outQ = net.projHead.forward(indexSelect(concat([g, lq], 0), 0, order));
    }
    net.momentumUpdateEncoder();
    const outK = noGrad(() => {
      const lk = net.encoderK.forwardFeatures(concat(cropWindows(strong, plan), 0)).cls;
      net.emaUpdateProjHead();
      return net.projHeadT.forward(indexSelect(concat([detach(g), lk], 0), 0, order));
    });
    return { outQ, outK };
  });
}

/**
 * Enqueues the keys and builds the contrast set. `enqueued` is what goes into the queue: this step's keys and
 * tags by default; under data parallelism every rank's, gathered (SeCo's concat_all_gather), while the contrast
 * set's own out_k stays this rank's, as in SeCo.
 */
export function reservoirContrastSet(net: SecoNetwork, keys: ReservoirKeys, plan: CscTagPlan, enqueued: { keys: Tensor; flags: ArrayLike<number> } = { keys: keys.outK, flags: plan.flags }): Reservoir {
  return scope(() => {
    const { outQ, outK } = keys;
    net.enqueue(enqueued.keys, enqueued.flags);
    const flags = tensor(plan.flags, [plan.flags.length], 'i32');
    const feats = concat([outQ ? detach(outQ) : outK, outK, net.queue], 0);
    const flagsAll = concat([flags, flags, reshape(net.queueLabelFlag, [net.queueSize])], 0);
    return { outQ, feats, flags, flagsAll };
  });
}

/** maintain_reservoir on one process: the keys, enqueued as they are, and the contrast set. */
export function maintainReservoir(net: SecoNetwork, clsRaw: Tensor, images: Tensor, strong: Tensor, global2: Tensor, plan: CscTagPlan, queries: boolean): Reservoir {
  return scope(() => reservoirContrastSet(net, reservoirKeys(net, clsRaw, images, strong, global2, plan, queries), plan));
}
