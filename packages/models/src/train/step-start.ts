// The start of every method's step: the host batch on the GPU, the pseudo labels from its no-grad CAMs, then the
// shared head losses with the energy loss set going on the host.
import { tensor, type Tensor } from '@seco/tensor';
import type { CamSegParts, HeadOutputs } from '../cam-seg-forward.ts';
import { energyLoss, type EnergyLossOptions } from '../losses/energy.ts';
import type { CamModel } from '../multiscale-cam.ts';
import { headLosses, type HeadLosses } from './head-losses.ts';
import type { SharedStepOptions, TrainBatch } from './method.ts';
import { presentClasses, type PseudoLabels, type PseudoLabelSources, pseudoLabels, type RoiMaker } from './pseudo.ts';
import type { StepTensors } from './step-tensors.ts';

/** The network parts the shared start of a step uses. */
export type StepNetwork = CamSegParts & CamModel & { readonly numClasses: number; forward(x: Tensor): HeadOutputs };

/** A batch on the GPU with its pseudo labels; every tensor is owned by the step's StepTensors. */
export interface StepInputs {
  /** (B, 3, S, S) the main, strong local and second global views. */
  images: Tensor;
  strong: Tensor;
  global2: Tensor;
  /** (B, C) multi-hot labels. */
  clsLabel: Tensor;
  /** (B, 4) i32 img_box. */
  imgBox: Tensor;
  pseudo: PseudoLabels;
}

/**
 * Uploads `batch` and derives its pseudo labels on the token grid of the crop; seg labels only `withSeg`.
 * `roiMask` is the method's ROI mask (pseudoLabels' default: SeCo's).
 */
export function stepInputs(
  held: StepTensors,
  net: StepNetwork,
  batch: TrainBatch,
  sources: PseudoLabelSources,
  o: SharedStepOptions,
  withSeg: boolean,
  roiMask?: RoiMaker,
): StepInputs {
  const { own } = held;
  const B = batch.size;
  const S = batch.cropSize;
  const C = net.numClasses - 1;
  const img = [B, 3, S, S];
  const images = own(tensor(batch.images, img));
  const strong = own(tensor(batch.strong, img));
  const global2 = own(tensor(batch.global2, img));
  const clsLabel = own(tensor(batch.clsLabels, [B, C]));
  const imgBox = own(tensor(batch.imgBox, [B, 4], 'i32'));
  const p = net.encoder.config.patchSize;
  const grid: [number, number] = [Math.floor(S / p), Math.floor(S / p)];
  const pseudo = pseudoLabels(net, images, clsLabel, imgBox, grid, presentClasses(batch.clsLabels, C), sources, o, withSeg, roiMask);
  own(pseudo.roi);
  own(pseudo.aff);
  own(pseudo.segLabel);
  return { images, strong, global2, clsLabel, imgBox, pseudo };
}

/**
 * The student's forward with its shared terms (headLosses), all owned by `held`; while the energy loss weighs
 * anything (`withReg`), its host part is started and held for StepTensors.takeEnergy.
 */
export function startHeadLosses(
  held: StepTensors,
  net: StepNetwork,
  inputs: StepInputs,
  cropSize: number,
  withSeg: boolean,
  withReg: boolean,
  energy: EnergyLossOptions,
): HeadLosses {
  const { images, clsLabel, imgBox, pseudo } = inputs;
  const head = headLosses(net, images, clsLabel, pseudo.aff, pseudo.segLabel, cropSize, withSeg, withReg);
  for (const t of Object.values(head.terms)) held.own(t);
  held.own(head.clsToken);
  held.own(head.seg448);
  held.holdEnergy(head.seg448 ? energyLoss(images, head.seg448, pseudo.segLabel!, imgBox, energy) : null);
  return head;
}
