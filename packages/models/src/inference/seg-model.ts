// SeCo's final inference (docs/ALGORITHM.md §5) on one image, shared by the CLI and the browser page so both give the
// same numbers: the image resized to size × size on the host (torch bilinear) and normalised, then per scale
// [x, flip(x)] through the network, seg logits resized to the image, summed over the flip, max over scales,
// argmax, or softmax + DenseCRF.
import { add, argmax, concat, flip, interpolate, keep, maximum, narrow, noGrad, scope, softmax, type Tensor, tensor } from '@seco/tensor';
import { IMAGENET_MEAN, IMAGENET_STD, type IndexMap, normalizeCHW, resizeBilinearTorchCHW, type RgbImage } from '@seco/data/web';
import { camToLabel } from '../cam.ts';
import { denseCrf } from '../crf/densecrf.ts';
import { multiScaleCam } from '../multiscale-cam.ts';
import type { EvalOptions, InferenceConfig } from './config.ts';

/** Values in [0, 1], at the image's size. */
export interface HeatMap {
  width: number;
  height: number;
  data: Float32Array;
}

/** The structural part of SecoNetwork that inference uses. */
export interface SegNetwork {
  forward(x: Tensor): { seg: Tensor };
  camOnly(x: Tensor): { cam: Tensor; camAux: Tensor };
  dispose(): void;
}

export interface ClassCams {
  width: number;
  height: number;
  /** Foreground classes (the class index minus one). */
  numClasses: number;
  /** (numClasses, H, W) min-max normalised CAMs in [0, 1]. */
  data: Float32Array;
}

export interface SegModel {
  readonly config: InferenceConfig;
  /** §5 final inference with the config's eval options, or `options` in their place. */
  segment(image: RgbImage, options?: EvalOptions): Promise<{ pred: IndexMap }>;
  /**
   * §5 CAM seeds: multi_scale_cam2 then cam_to_label with the image's labels, from the CAM and from the aux CAM
   * of the same pass; also the CAM as a heat map.
   */
  camSeeds(image: RgbImage, labels: readonly number[], scales: readonly number[]): Promise<{ pred: IndexMap; auxPred: IndexMap; cam: HeatMap }>;
  /** multi_scale_cam2 of every foreground class at the image's size (for heat maps). */
  classCams(image: RgbImage, scales: readonly number[]): Promise<ClassCams>;
  dispose(): void;
}

/** Normalised (1, 3, S, S) input, resized as SeCo's evaluation does (bilinear, aspect ignored). */
export function inputTensor(image: RgbImage, size: number): Tensor {
  const x = resizeBilinearTorchCHW(image, size, size);
  normalizeCHW(x, IMAGENET_MEAN, IMAGENET_STD);
  return tensor(x, [1, 3, size, size]);
}

export function createSegModel(net: SegNetwork, config: InferenceConfig): SegModel {
  const numClasses = config.data.num_classes + 1;
  const size = config.eval.size;

  /** multiScaleCam at the eval size, upsampled to the image: kept (1, C−1, H, W) tensors, the CAM and the aux CAM. */
  const camsAtImage = (image: RgbImage, scales: readonly number[]): [Tensor, Tensor] =>
    noGrad(() =>
      scope(() => {
        const { cam, camAux } = multiScaleCam(net, inputTensor(image, size), scales);
        const up = (t: Tensor) => keep(interpolate(t, { size: [image.height, image.width], mode: 'bilinear', alignCorners: false }));
        return [up(cam), up(camAux)];
      }),
    );

  return {
    config,

    async segment(image, options = config.eval) {
      const [H, W] = [image.height, image.width];
      const s0 = options.size;
      const scores = noGrad(() =>
        scope(() => {
          const x = inputTensor(image, s0);
          let acc: Tensor | null = null;
          for (const s of options.scales) {
            const xs = s === 1 ? x : interpolate(x, { size: [Math.trunc(s * s0), Math.trunc(s * s0)], mode: 'bilinear', alignCorners: false });
            const input = options.flip ? concat([xs, flip(xs, 3)], 0) : xs;
            const up = interpolate(net.forward(input).seg, { size: [H, W], mode: 'bilinear', alignCorners: false });
            const fused = options.flip ? add(narrow(up, 0, 0, 1), flip(narrow(up, 0, 1, 1), 3)) : up;
            acc = acc ? maximum(acc, fused) : fused;
          }
          return keep(options.crf ? softmax(acc!, 1) : argmax(acc!, 1));
        }),
      );
      try {
        const data = await scores.data();
        if (!options.crf) return { pred: { width: W, height: H, data: Uint8Array.from(data) } };
        return { pred: { width: W, height: H, data: denseCrf(image.data, data as Float32Array, numClasses, H, W).labels } };
      } finally {
        scores.dispose();
      }
    },

    async camSeeds(image, labels, scales) {
      const [H, W] = [image.height, image.width];
      const onehot = new Float32Array(config.data.num_classes);
      for (const l of labels) onehot[l] = 1;
      const cams = camsAtImage(image, scales);
      const seeds = noGrad(() =>
        scope(() => {
          const present = tensor(onehot, [1, config.data.num_classes]);
          return cams.map((c) => keep(camToLabel(c, present, { bkgThre: config.cam.bkg_thre })));
        }),
      );
      try {
        const [camData, labelData, auxData] = await Promise.all([cams[0].data(), ...seeds.map((t) => t.data())]);
        // The heat map shows the strongest present class at each pixel.
        const heat = new Float32Array(H * W);
        for (const l of labels) for (let i = 0; i < H * W; i++) heat[i] = Math.max(heat[i], camData[l * H * W + i]);
        const map = (d: ArrayLike<number>) => ({ width: W, height: H, data: Uint8Array.from(d) });
        return { pred: map(labelData), auxPred: map(auxData), cam: { width: W, height: H, data: heat } };
      } finally {
        for (const t of [...cams, ...seeds]) t.dispose();
      }
    },

    async classCams(image, scales) {
      const [cam, aux] = camsAtImage(image, scales);
      aux.dispose();
      try {
        return { width: image.width, height: image.height, numClasses: config.data.num_classes, data: (await cam.data()) as Float32Array };
      } finally {
        cam.dispose();
      }
    },

    dispose: () => net.dispose(),
  };
}
