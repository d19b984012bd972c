// In-training validation (docs/ALGORITHM.md §5): val images resized to eval.size; seg single-scale without flip,
// upsampled to the label and argmaxed; CAM and aux-CAM by multi_scale_cam2(cam.scales) then cam_to_label(bkg_thre)
// with the ground-truth image labels. No CRF. One dataset-level confusion matrix per output.
import { IMAGENET_MEAN, IMAGENET_STD, normalizeCHW, resizeBilinearTorchCHW } from '@seco/data';
import { camToLabel, ConfusionMatrix, multiScaleCam, type SecoNetwork } from '@seco/models';
import { argmax, interpolate, keep, noGrad, scope, type Tensor, tensor } from '@seco/tensor';
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

export async function validateNetwork(net: SecoNetwork, config: SecoConfig, o: ValidateOptions = {}): Promise<ValidationScores> {
  const ds = openSplit(config, 'val', { masks: true });
  const nc = config.data.num_classes + 1;
  const [cam, aux, seg] = [new ConfusionMatrix(nc), new ConfusionMatrix(nc), new ConfusionMatrix(nc)];
  const size = config.eval.size;
  const n = Math.min(ds.ids.length, o.limit ?? Infinity);
  for (let i = 0; i < n; i++) {
    const s = await readSample(ds, i);
    if (!s.gt) throw new Error(`${s.id}: validation needs a ground-truth mask`);
    if (!s.labels) throw new Error(`${s.id}: validation needs image-level labels (config data.labels)`);
    const { width: W, height: H } = s.image;
    const onehot = new Float32Array(config.data.num_classes);
    for (const l of s.labels) onehot[l] = 1;
    const outs: Tensor[] = noGrad(() =>
      scope(() => {
        const x = resizeBilinearTorchCHW(s.image, size, size);
        normalizeCHW(x, IMAGENET_MEAN, IMAGENET_STD);
        const input = tensor(x, [1, 3, size, size]);
        const up = (t: Tensor) => interpolate(t, { size: [H, W], mode: 'bilinear', alignCorners: false });
        const labels = tensor(onehot, [1, config.data.num_classes]);
        const c = multiScaleCam(net, input, config.cam.scales);
        const seeds = (m: Tensor) => camToLabel(up(m), labels, { bkgThre: config.cam.bkg_thre });
        return [keep(argmax(up(net.forward(input).seg), 1)), keep(seeds(c.cam)), keep(seeds(c.camAux))];
      }),
    );
    try {
      const [p, c, a] = await Promise.all(outs.map((t) => t.data()));
      const pred = Uint8Array.from(p);
      seg.add(s.gt.data, pred, s.id);
      cam.add(s.gt.data, c, s.id);
      aux.add(s.gt.data, a, s.id);
      o.onSeg?.(s, pred);
    } finally {
      for (const t of outs) t.dispose();
    }
  }
  return { cam_miou: cam.scores().miou, aux_cam_miou: aux.scores().miou, seg_miou: seg.scores().miou };
}
