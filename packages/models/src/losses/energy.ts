import { interpolate, mul, noGrad, record, reshape, scalar, scope, softmax, type Tensor, tensor } from '@seco/tensor';
import type { BilateralFilterKind } from './bilateral.ts';
import { expectFloat, expectRank, fail } from './check.ts';
import { energyHost, type EnergyHostResult } from './energy-host.ts';

export interface EnergyLossOptions {
  /** DenseEnergyLoss(weight=1e-7, sigma_rgb=15, sigma_xy=100, scale_factor=0.5), SeCo's settings. */
  weight?: number;
  sigmaRgb?: number;
  sigmaXy?: number;
  scaleFactor?: number;
  /** ImageNet statistics on the 0..255 scale, to undo the input normalisation. */
  mean?: readonly [number, number, number];
  std?: readonly [number, number, number];
  /**
   * 'lattice' (default) is rloss' permutohedral lattice, what SeCo trains with. 'exact' is the O(n²) Gaussian
   * sum, about twice the lattice's value on SeCo's settings; only for small test images.
   */
  filter?: BilateralFilterKind;
  /**
   * true (default): like rloss' x86 (SSE) build, the lattice gets zero feature vectors padding the h·w pixels
   * of each downscaled image to a multiple of 4, which take part in the blur; false: the plain lattice, as
   * rloss without SSE. Nothing changes when h·w is a multiple of 4, as at SeCo's 224² (bilateral.ts).
   */
  ssePadding?: boolean;
}

/** Image box rows [row0, row1, col0, col1], exclusive ends, in input pixels; null = the whole image. */
export type ImageBoxes = Tensor | readonly (readonly number[])[] | null;

export interface EnergyLossParts extends EnergyHostResult {
  lossUnweighted: number;
  /** (B, 3, h, w) nearest-downscaled image, 0..255. */
  scaledImage: Float32Array;
  /** (B, K, h, w) bilinear-downscaled softmax. */
  scaledProb: Float32Array;
  /** (B, h, w) nearest-downscaled ROI and label. */
  scaledRoi: Float32Array;
  scaledLabel: Int32Array;
  shape: { B: number; K: number; h: number; w: number };
}

/**
 * SeCo's regularisation loss, get_energy_loss + rloss' DenseEnergyLoss (spec §3.6f), with the permutohedral
 * lattice like rloss (not the exact Gaussian it approximates):
 *   S = softmax(logit); downscale by scaleFactor (image and label nearest, S bilinear, ROI nearest);
 *   gate = max(ROI − max_k S_k, 0), 1 where the label is 255; AS = bilateral(S·ROI) ⊙ gate;
 *   L = −weight·Σ S·ROI·AS / B, with rloss' custom backward ∂L/∂S = −2·weight·AS·ROI/B (gate constant,
 *   filter assumed symmetric), which flows through the bilinear downscale and the softmax into `logit`.
 *
 * Where it runs: softmax and the downscales on the GPU; the lattice on the host, built per image from the
 * downscaled image. So each call reads back the half-resolution probabilities (plus the small downscaled image
 * and label) once, hence async; the backward is a GPU multiply by the uploaded AS. `logit` (B, K, H, W) are the
 * upsampled segmentation logits, `imageNormalized` (B, 3, H, W) the ImageNet-normalised input, label (B, H, W).
 */
export async function energyLoss(
  imageNormalized: Tensor,
  logit: Tensor,
  label: Tensor,
  imgBox: ImageBoxes,
  options: EnergyLossOptions = {},
): Promise<Tensor> {
  return (await energyLossWithParts(imageNormalized, logit, label, imgBox, options)).loss;
}

/** energyLoss, with its host intermediates for checks and debugging. */
export async function energyLossWithParts(
  imageNormalized: Tensor,
  logit: Tensor,
  label: Tensor,
  imgBox: ImageBoxes,
  options: EnergyLossOptions = {},
): Promise<{ loss: Tensor; parts: EnergyLossParts }> {
  const op = 'energyLoss';
  const weight = options.weight ?? 1e-7;
  const sigmaRgb = options.sigmaRgb ?? 15;
  const sigmaXy = options.sigmaXy ?? 100;
  const sf = options.scaleFactor ?? 0.5;
  const mean = options.mean ?? [123.675, 116.28, 103.53];
  const std = options.std ?? [58.395, 57.12, 57.375];
  expectRank(op, 'logit', logit, 4, '(B, K, H, W)');
  expectFloat(op, 'logit', logit);
  const [B, K, H, W] = logit.shape;
  expectRank(op, 'imageNormalized', imageNormalized, 4, '(B, 3, H, W)');
  if (imageNormalized.shape[0] !== B || imageNormalized.shape[1] !== 3 || imageNormalized.shape[2] !== H || imageNormalized.shape[3] !== W) {
    fail(op, `imageNormalized must be (${B}, 3, ${H}, ${W}) for this logit`, imageNormalized.shape, logit.shape);
  }
  expectRank(op, 'label', label, 3, '(B, H, W)');
  if (label.shape[0] !== B || label.shape[1] !== H || label.shape[2] !== W) fail(op, `label must be (${B}, ${H}, ${W}) for this logit`, label.shape, logit.shape);
  if (label.dtype === 'f32') fail(op, 'label must hold integer class ids (i32 or u32), got f32', label.shape);
  const h = Math.floor(H * sf);
  const w = Math.floor(W * sf);
  if (h < 1 || w < 1) fail(op, `scaleFactor ${sf} leaves an empty ${h}x${w} map`, logit.shape);
  const boxes = await readBoxes(op, imgBox, B, H, W);

  const resize = { scaleFactor: sf, recomputeScaleFactor: true } as const;
  const { sHalf, imgHalf, labelHalf } = scope(() => ({
    sHalf: interpolate(softmax(logit, 1), { ...resize, mode: 'bilinear', alignCorners: false }),
    ...noGrad(() => ({
      imgHalf: interpolate(imageNormalized, { ...resize, mode: 'nearest' }),
      labelHalf: interpolate(reshape(label, [B, 1, H, W]), { ...resize, mode: 'nearest' }),
    })),
  }));
  let loss: Tensor;
  let parts: EnergyLossParts;
  try {
    const [prob, img, lab] = await Promise.all([sHalf.data(), imgHalf.data(), labelHalf.data()]);
    const n = h * w;
    const scaledImage = new Float32Array(B * 3 * n);
    // f32 arithmetic as torch's img * std + mean.
    for (let i = 0; i < scaledImage.length; i++) {
      const c = Math.floor(i / n) % 3;
      scaledImage[i] = Math.fround(img[i] * Math.fround(std[c])) + Math.fround(mean[c]);
    }
    const scaledLabel = Int32Array.from(lab);
    // SeCo casts the label to uint8, so −1 reads as 255 (unlabelled) too.
    const unlabeled = Uint8Array.from(scaledLabel, (v) => ((v & 255) === 255 ? 1 : 0));
    const scaledRoi = roiMask(boxes, B, H, W, h, w);
    const scaledProb = prob as Float32Array;
    const host = energyHost({ image: scaledImage, prob: scaledProb, roi: scaledRoi, unlabeled, B, K, h, w }, { sigmaRgb, sigmaXy: sigmaXy * sf, filter: options.filter ?? 'lattice', ssePadding: options.ssePadding ?? true });
    loss = withGradient(Math.fround(weight * host.loss), sHalf, host.gradProb.map((v) => v * weight));
    parts = { ...host, lossUnweighted: host.loss, scaledImage, scaledProb, scaledRoi, scaledLabel, shape: { B, K, h, w } };
  } finally {
    for (const t of [sHalf, imgHalf, labelHalf]) t.dispose();
  }
  return { loss, parts };
}

/** A scalar with the value `value` whose gradient with respect to `x` is the constant `grad`: rloss' custom backward. */
function withGradient(value: number, x: Tensor, grad: Float32Array): Tensor {
  const out = scalar(value);
  const g = tensor(grad, x.shape);
  record('energyLoss', [x], [out], ([up], [gs]) => [mul(gs, up!)], [g]);
  g.dispose();
  return out;
}

async function readBoxes(op: string, imgBox: ImageBoxes, B: number, H: number, W: number): Promise<number[][]> {
  if (imgBox === null) return Array.from({ length: B }, () => [0, H, 0, W]);
  let rows: number[][];
  if (Array.isArray(imgBox)) rows = imgBox.map((r: readonly number[]) => [...r]);
  else {
    const t = imgBox as Tensor;
    if (t.rank !== 2 || t.shape[1] !== 4) fail(op, 'imgBox must be (B, 4) rows [row0, row1, col0, col1]', t.shape);
    const d = Array.from(await t.data());
    rows = Array.from({ length: t.shape[0] }, (_, i) => d.slice(i * 4, i * 4 + 4));
  }
  if (rows.length !== B || rows.some((r) => r.length !== 4)) fail(op, `imgBox must hold ${B} rows [row0, row1, col0, col1]`, [rows.length, rows[0]?.length ?? 0]);
  return rows;
}

/** The box mask at full size, downscaled nearest exactly as PyTorch indexes (src = min(floor(dst·in/out), in − 1)). */
function roiMask(boxes: number[][], B: number, H: number, W: number, h: number, w: number): Float32Array {
  const src = (o: number, inS: number, outS: number) => {
    if (inS === outS) return o;
    return Math.min(Math.floor(Math.fround(o * Math.fround(inS / outS))), inS - 1);
  };
  const roi = new Float32Array(B * h * w);
  for (let b = 0; b < B; b++) {
    // Python slice semantics on crop_mask[r0:r1, c0:c1] for in-range boxes.
    const [r0, r1, c0, c1] = boxes[b].map((v, i) => Math.max(0, Math.min(v, i < 2 ? H : W)));
    for (let y = 0; y < h; y++) {
      const sy = src(y, H, h);
      for (let x = 0; x < w; x++) {
        const sx = src(x, W, w);
        roi[(b * h + y) * w + x] = sy >= r0 && sy < r1 && sx >= c0 && sx < c1 ? 1 : 0;
      }
    }
  }
  return roi;
}
