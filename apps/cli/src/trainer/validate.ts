// In-training validation (docs/ALGORITHM.md §5): val images resized to eval.size; seg single-scale without flip,
// upsampled to the label and argmaxed; CAM and aux-CAM by multi_scale_cam2(cam.scales) then cam_to_label(bkg_thre)
// with the ground-truth image labels. No CRF. One dataset-level confusion matrix per output.
import { ConfusionMatrix, createSegModel, type SegNetwork } from '@seco/models';
import type { SecoConfig } from '../config/schema.ts';
import { type EvalSample, openSplit, readSample } from '../dataset.ts';

export interface ValidationScores {
  cam_miou: number;
  aux_cam_miou: number;
  seg_miou: number;
}

export interface ValidateOptions {
  limit?: number;
  /** Sees each image's seg prediction (H·W class ids) with its sample, e.g. for the demo's leak figure. */
  onSeg?: (sample: EvalSample, pred: Uint8Array) => void;
}

export async function validateNetwork(net: SegNetwork, config: SecoConfig, o: ValidateOptions = {}): Promise<ValidationScores> {
  const ds = openSplit(config, 'val', { masks: true });
  const nc = config.data.num_classes + 1;
  const [cam, aux, seg] = [new ConfusionMatrix(nc), new ConfusionMatrix(nc), new ConfusionMatrix(nc)];
  // The shared inference, single-scale and unflipped for seg; the network stays the trainer's (never disposed here).
  const model = createSegModel(net, config);
  const segOnly = { size: config.eval.size, scales: [1], flip: false, crf: false };
  const n = Math.min(ds.ids.length, o.limit ?? Infinity);
  for (let i = 0; i < n; i++) {
    const s = await readSample(ds, i);
    if (!s.gt) throw new Error(`${s.id}: validation needs a ground-truth mask`);
    if (!s.labels) throw new Error(`${s.id}: validation needs image-level labels (config data.labels)`);
    const { pred } = await model.segment(s.image, segOnly);
    const seeds = await model.camSeeds(s.image, s.labels, config.cam.scales);
    seg.add(s.gt.data, pred.data, s.id);
    cam.add(s.gt.data, seeds.pred.data, s.id);
    aux.add(s.gt.data, seeds.auxPred.data, s.id);
    o.onSeg?.(s, pred.data);
  }
  return { cam_miou: cam.scores().miou, aux_cam_miou: aux.scores().miou, seg_miou: seg.scores().miou };
}
