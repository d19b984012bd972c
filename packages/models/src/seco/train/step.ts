// One SeCo training iteration (docs/ALGORITHM.md §3) on the GPU: pseudo labels, tags, student forward, reservoir, the
// seven losses, backward and the optimizer step. Nothing outlives the call but the updated network state.
import { type AdamW, detach, type GradScaler, type NonFiniteWatch, scope, type Tensor } from '@seco/tensor';
import { ligLoss } from '../losses/lig.ts';
import { lilLoss } from '../losses/lil.ts';
import { readLossTerms, stepTotal } from '../../train/loss-total.ts';
import { startHeadLosses, stepInputs } from '../../train/step-start.ts';
import { StepTensors } from '../../train/step-tensors.ts';
import type { GradientAverager } from '../../train/method.ts';
import type { SecoNetwork } from '../network.ts';
import { type CscTagPlan, cscTagPlan } from '../tags.ts';
import { lossToBackward, optimizerStep } from '../../train/mixed-precision.ts';
import { SECO_LOSS_TERMS, type SecoBatch, type SecoLossTerm, type SecoStepOptions, type SecoStepPoint } from './options.ts';
import { reservoirContrastSet, reservoirKeys } from './reservoir.ts';

/**
 * Data parallelism's two hooks (absent on one process; apps/cli/src/distributed/ provides them over MPI).
 * `gather` is SeCo's concat_all_gather: every rank's rows and their integer tags, rank-major, for the prototype
 * update (cls tokens, label_idx) and the enqueue (teacher keys, tags). `reduceGradients` averages the
 * parameters' .grad over ranks between backward and the optimizer step.
 */
export interface SecoDataParallel extends GradientAverager {
  gather(rows: Tensor, tags: ArrayLike<number>): Promise<{ rows: Tensor; tags: Int32Array }>;
}

/**
 * Sees a step's intermediates while they are alive (awaited, so it may read them back): 'roi' (B, S, S),
 * 'tags' (the CscTagPlan), 'seg_label' (B, S, S) or null, 'flags_revised' (LIL's revised flags), 'total' (the
 * loss that is backpropagated) and 'grads' (no value: the parameters' .grad just before the optimizer step, times the loss scale under a scaler).
 */
export type SecoStepProbe = (name: 'roi' | 'tags' | 'seg_label' | 'flags_revised' | 'total' | 'grads', value: Tensor | CscTagPlan | null) => void | Promise<void>;

export interface SecoTrainContext {
  net: SecoNetwork;
  /** PolyWarmupAdamW over net.paramGroups(): its schedule sets every group's lr before each step. */
  optimizer: AdamW;
  options: SecoStepOptions;
  /**
   * Mixed precision (toMixedPrecision): the loss is scaled before backward, and an overflowing step is skipped on
   * the GPU and the scale backed off; absent, the f32 step.
   */
  scaler?: GradScaler;
  /** Divergence watch: every loss term and the total are checked on the GPU each step (no wait), under `step`. */
  watch?: { watch: NonFiniteWatch; step: number };
  /** For tests and debugging only; costs nothing when absent. */
  probe?: SecoStepProbe;
  /** Set when training over several processes. */
  parallel?: SecoDataParallel;
}

/** The index a watched total loss carries; loss terms carry their index in SECO_LOSS_TERMS. */
export const WATCHED_TOTAL = SECO_LOSS_TERMS.length;

export type SecoLosses = Record<SecoLossTerm, number>;

/**
 * Runs iteration `point` on `batch` and updates the network, its buffers and the optimizer. Returns the
 * unweighted loss terms when `read` (one readback that waits for the step), else null.
 *
 * Terms whose weight is 0 this iteration are not computed, for speed, and read as 0: PAR, seg and the energy
 * loss while seg and reg weigh 0; the student crops and LIL/LIG while both contrast weights are 0. SeCo computes
 * them anyway, but a 0-weighted term changes no gradient; everything with side effects (prototype update, both
 * EMAs, the teacher keys, enqueue) runs every iteration as in SeCo.
 */
export async function secoTrainStep(ctx: SecoTrainContext, batch: SecoBatch, point: SecoStepPoint, read: boolean): Promise<SecoLosses | null> {
  const { net, optimizer, options: o } = ctx;
  const probe = ctx.probe ?? null;
  const S = batch.cropSize;
  const w = point.weights;
  const withSeg = w.seg !== 0 || w.reg !== 0;
  const withContrast = w.lil !== 0 || w.lig !== 0;
  const held = new StepTensors();
  const { own } = held;
  try {
    const inputs = stepInputs(held, net, batch, point, o, withSeg);
    const { images, strong, global2, pseudo: pl } = inputs;
    // Two host round trips, each overlapped with GPU work so the queue never runs dry: tags are planned on the
    // host from the ROI mask (manual_seed(0) windows, §3.4), and the energy loss filters the half-size softmax on
    // the host (rloss' lattice). The student's forward needs neither, so it is encoded while the mask is on its
    // way back; the reservoir is encoded before the lattice runs, so the GPU works through it meanwhile.
    const planned = cscTagPlan(pl.roi, { cropNum: o.cropNum, cropSize: o.localCropSize, threshold: o.tagThreshold });
    planned.catch(() => {}); // awaited below; a step that fails before then must not crash the process

    const head = startHeadLosses(held, net, inputs, S, withSeg, w.reg !== 0, o.energy);
    const terms: Partial<Record<SecoLossTerm, Tensor>> = head.terms;

    const plan = await planned;
    if (probe) {
      await probe('roi', pl.roi);
      await probe('tags', plan);
      await probe('seg_label', pl.segLabel);
    }
    const dp = ctx.parallel ?? null;
    // Under data parallelism the prototypes take every rank's tokens (SeCo's update_prototype all-gathers).
    const protoIn = dp && point.updatePrototypes ? await dp.gather(head.clsToken, batch.labelIdx) : null;
    own(protoIn?.rows ?? null);
    const keys = scope(() => {
      const protos = point.updatePrototypes ? net.updatePrototype(protoIn?.rows ?? head.clsToken, protoIn?.tags ?? batch.labelIdx, o.protoM) : detach(net.prototypes);
      return { protos, ...reservoirKeys(net, head.clsToken, images, strong, global2, plan, withContrast) };
    });
    own(keys.protos);
    own(keys.outQ);
    own(keys.outK);
    // ... and the queue every rank's keys (_dequeue_and_enqueue's concat_all_gather).
    const queued = dp ? await dp.gather(keys.outK, plan.flags) : null;
    own(queued?.rows ?? null);
    const tail = scope(() => {
      const res = reservoirContrastSet(net, keys, plan, queued ? { keys: queued.rows, flags: queued.tags } : undefined);
      if (!res.outQ) return { lil: null, lig: null, flagsRevised: null };
      const lil = lilLoss(res.outQ, res.feats, res.flags, res.flagsAll, { temperature: o.tempLil });
      const lig = ligLoss(res.outQ, keys.protos, lil.flagsRevised, { temperature: o.tempLig });
      return { lil: lil.loss, lig, flagsRevised: lil.flagsRevised };
    });
    if (tail.lil) terms.lil = own(tail.lil);
    if (tail.lig) terms.lig = own(tail.lig);
    own(tail.flagsRevised);
    // Summed in SECO_LOSS_TERMS order, as before the reordering, so the total is the same to the bit.
    const total = await stepTotal(held, SECO_LOSS_TERMS, terms, w, ctx.watch);
    // The watch sees the unscaled losses: a gradient overflow is the scaler's to skip, a non-finite loss is not.
    own(lossToBackward(total, ctx.scaler)).backward();
    if (dp) await dp.reduceGradients();
    if (probe) {
      await probe('flags_revised', tail.flagsRevised);
      await probe('total', total);
      await probe('grads', null);
    }
    optimizerStep(optimizer, ctx.scaler);
    optimizer.zeroGrad();

    return read ? await readLossTerms(SECO_LOSS_TERMS, terms) : null;
  } finally {
    held.dispose();
  }
}
