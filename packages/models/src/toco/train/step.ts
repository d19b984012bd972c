// One ToCo training iteration (ToCo scripts/dist_train_voc_seg_neg.py, docs/ALGORITHM.md §9) on the shared pieces:
// multi-scale CAMs, PTC labels, PAR seg labels, cls / aux / PTC / seg / energy losses and the optimizer, plus
// ToCo's own local crops, CTC head with its EMA teacher, and CTC loss.
import { concat, detach, noGrad, scope, type Tensor, tensor } from '@seco/tensor';
import { cropWindows } from '../../crop-windows.ts';
import { widen } from '../../precision.ts';
import { readLossTerms, stepTotal } from '../../train/loss-total.ts';
import { lossToBackward, optimizerStep } from '../../train/mixed-precision.ts';
import type { TrainBatch, TrainStepContext } from '../../train/method.ts';
import type { RoiMaker } from '../../train/pseudo.ts';
import { startHeadLosses, stepInputs } from '../../train/step-start.ts';
import { StepTensors } from '../../train/step-tensors.ts';
import { ctcLoss } from '../ctc-loss.ts';
import { tocoCropPlan, tocoRoiMask } from '../local-crops.ts';
import type { TocoNetwork } from '../network.ts';
import { TOCO_LOSS_TERMS, type TocoLossTerm, type TocoStepOptions, type TocoStepPoint } from './options.ts';

export type TocoTrainContext = TrainStepContext<TocoNetwork, TocoStepOptions>;
export type TocoLosses = Record<TocoLossTerm, number>;

const tocoRoi: RoiMaker = (cam, clsLabel, thr) => tocoRoiMask(cam, clsLabel, thr);
/** ToCo's ROI mask reads the aux CAM, its seg labels the final one, every iteration. */
const TOCO_SOURCES = { roiSource: 'aux', segSource: 'final' } as const;

/** The local crops' seed for an iteration: distinct per (seed, iteration), 32-bit (torch's manual_seed range). */
function cropSeed(seed: number, iteration: number, batch: number): number {
  return (Math.imul(seed + 1, 0x9e3779b1) + iteration * batch) >>> 0;
}

/**
 * Runs iteration `point` on `batch` and updates the network, its teacher head and the optimizer. Returns the
 * unweighted loss terms when `read`, else null. As in the SeCo step, terms at weight 0 are not computed (PAR,
 * seg and the energy loss before they start; the local crops and CTC while CTC weighs 0) and read as 0; the
 * teacher head's EMA runs every iteration, as ToCo's does.
 *
 * Where this step departs from ToCo: the views are the shared loader's (the main input without ToCo's
 * flip / jitter / blur, which SeCo removed; local crops from the strong view, as ToCo's crops[2]); global view 0
 * reuses the main forward's cls token (ToCo encodes the same image again: same value); the seg loss is the
 * shared one, whose empty-set case is 0 where ToCo's cross-entropy means give NaN (ToCo issue #8).
 */
export async function tocoTrainStep(ctx: TocoTrainContext, batch: TrainBatch, point: TocoStepPoint, read: boolean): Promise<TocoLosses | null> {
  const { net, optimizer, options: o } = ctx;
  const B = batch.size;
  const S = batch.cropSize;
  const w = point.weights;
  const withSeg = w.seg !== 0 || w.reg !== 0;
  const withCtc = w.ctc !== 0;
  const held = new StepTensors();
  try {
    const inputs = stepInputs(held, net, batch, TOCO_SOURCES, o, withSeg, tocoRoi);
    const { strong, global2, pseudo: pl } = inputs;
    // The crop plan needs the ROI mask on the host: the student's forward is encoded while it comes back.
    const cropOptions = { cropNum: o.cropNum, cropSize: o.localCropSize, threshold: o.cropThreshold, seed: cropSeed(o.seed, point.iteration, B) };
    const planned = withCtc ? tocoCropPlan(pl.roi, cropOptions) : null;
    planned?.catch(() => {}); // awaited below; a step that fails before then must not crash the process

    const head = startHeadLosses(held, net, inputs, S, withSeg, w.reg !== 0, o.energy);
    const terms: Partial<Record<TocoLossTerm, Tensor>> = head.terms;

    // forward_proj: the teacher head's EMA first, then teacher (no grad) and student projections.
    net.emaUpdateProjHead();
    if (planned) {
      const plan = await planned;
      terms.ctc = held.own(
        scope(() => {
          // Student cls tokens in f32 (widen: an f16 student's), so they meet the f32 teacher head and the loss.
          const g = concat([head.clsToken, widen(net.encoder.forwardFeatures(global2).cls)], 0);
          const outT = noGrad(() => net.projHeadT.forward(detach(g)));
          const local = widen(net.encoder.forwardFeatures(concat(cropWindows(strong, plan), 0)).cls);
          const outS = net.projHead.forward(concat([g, local], 0));
          const flags = tensor(plan.flags, [B, plan.cropNum + 2], 'i32');
          return ctcLoss(outS, outT, flags, { temperature: o.temperature });
        }),
      );
    }
    const total = await stepTotal(held, TOCO_LOSS_TERMS, terms, w, ctx.watch);
    // The watch saw the unscaled losses: a gradient overflow is the scaler's to skip, a non-finite loss is not.
    held.own(lossToBackward(total, ctx.scaler)).backward();
    if (ctx.parallel) await ctx.parallel.reduceGradients();
    optimizerStep(optimizer, ctx.scaler);
    optimizer.zeroGrad();

    return read ? await readLossTerms(TOCO_LOSS_TERMS, terms) : null;
  } finally {
    held.dispose();
  }
}
