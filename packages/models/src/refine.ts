// refine_cams_with_bkg_v2 (SeCo utils/camutils.py): PAR-refined pseudo labels with a high and a low background.
import { add, amax, argmax, clamp, concat, div, eq, exp, floor, full, indexSelect, interpolate, mul, narrow, ne, noGrad, ones, reshape, scope, shapeError, sub, sum, type Tensor, tensor, TensorError, where } from '@seco/tensor';
import { type ImgBox, imgBoxMask } from './img-box.ts';

/** PAR or any refiner with its signature: image (B, 3, h, w), masks (B, K, h, w) → refined masks. */
export type Refiner = (image: Tensor, masks: Tensor) => Tensor;

export interface RefineOptions {
  imgBox: ImgBox;
  highThre?: number;
  lowThre?: number;
  ignoreIndex?: number;
  /** Images and CAMs are refined at (⌊H/d⌋, ⌊W/d⌋). */
  downScale?: number;
  /**
   * 0-based class channels that cover every class present in the batch (e.g. the union of the batch's labels,
   * which the data loader knows on the host). Channels left out are skipped; the result is unchanged as long as
   * no present class is left out. Default: all C channels. Fewer channels cut PAR's work and memory.
   */
  classes?: readonly number[];
}

const NEG = -3.4028234e38;

/**
 * softmax over the channels where `present` (B, K, 1, 1) is nonzero; the others get exactly 0. The same as
 * the reference's softmax over cams[valid_key] per image, batched.
 */
function maskedSoftmax(x: Tensor, present: Tensor): Tensor {
  const top = amax(where(present, x, NEG), 1, true);
  const e = where(present, exp(sub(x, top)), 0);
  return div(e, sum(e, 1, true));
}

/**
 * The reference, per image: valid_key = background + present classes; softmax over those channels of
 * [const thre; valid_cam] at ⌊H/2⌋×⌊W/2⌋; PAR; bilinear back to H×W; argmax mapped through valid_key.
 * Done with thre = high (lab_h) and low (lab_l), inside img_box only (ignoreIndex outside). Final label:
 * lab_h, with ignoreIndex where lab_h is background, and background where both are. (B, H, W) i32.
 *
 * Batched here: absent classes are masked out of the softmax, so they stay exactly 0 through PAR (which
 * refines channels independently) and never win the argmax; the high and low maps go through one PAR call.
 */
export function refineCamsWithBkg(refine: Refiner, images: Tensor, cams: Tensor, clsLabel: Tensor, options: RefineOptions): Tensor {
  const op = 'refineCamsWithBkg';
  if (images.rank !== 4 || cams.rank !== 4 || clsLabel.rank !== 2) throw shapeError(op, 'needs images (B, 3, H, W), cams (B, C, H, W) and clsLabel (B, C)', images.shape, cams.shape, clsLabel.shape);
  const [b, , h, w] = images.shape;
  const c = cams.shape[1];
  if (cams.shape[0] !== b || cams.shape[2] !== h || cams.shape[3] !== w || clsLabel.shape[0] !== b || clsLabel.shape[1] !== c) {
    throw shapeError(op, 'images, cams and clsLabel disagree on batch, classes or size', images.shape, cams.shape, clsLabel.shape);
  }
  const high = options.highThre ?? 0.7;
  const low = options.lowThre ?? 0.25;
  const ignore = options.ignoreIndex ?? 255;
  const down = options.downScale ?? 2;
  const classes = options.classes ?? Array.from({ length: c }, (_, i) => i);
  if (classes.some((k) => !Number.isInteger(k) || k < 0 || k >= c)) throw new TensorError(op, `classes must be channel indices below ${c}, got [${classes.join(', ')}]`);
  const k = classes.length + 1;
  const size: [number, number] = [Math.floor(h / down), Math.floor(w / down)];
  return noGrad(() =>
    scope(() => {
      const all = classes.length === c;
      const keys = all ? null : tensor(classes, [classes.length], 'i32');
      const camsK = keys ? indexSelect(cams, 1, keys) : cams;
      const clsK = keys ? indexSelect(clsLabel, 1, keys) : clsLabel;
      const present = reshape(ne(concat([ones([b, 1], clsK.dtype), clsK], 1), 0), [b, k, 1, 1]);
      // Per channel, resizing [thre; cams] is resizing each map alone: resize both thresholds and the CAMs once.
      const withBkg = concat([full([b, 1, h, w], high), full([b, 1, h, w], low), camsK], 1);
      const small = interpolate(withBkg, { size, mode: 'bilinear', alignCorners: false });
      const camsSmall = narrow(small, 1, 2, k - 1);
      const probs = (bkg: number) => maskedSoftmax(concat([narrow(small, 1, bkg, 1), camsSmall], 1), present);
      const refined = refine(interpolate(images, { size, mode: 'bilinear', alignCorners: false }), concat([probs(0), probs(1)], 1));
      const up = interpolate(refined, { size: [h, w], mode: 'bilinear', alignCorners: false });
      const lut = keys ? tensor([0, ...classes.map((x) => x + 1)], [k], 'i32') : null;
      const inside = imgBoxMask(options.imgBox, b, h, w);
      const labelOf = (start: number) => {
        const idx = argmax(narrow(up, 1, start, k), 1);
        return where(inside, lut ? indexSelect(lut, 0, idx) : idx, ignore);
      };
      const labH = labelOf(0);
      const labL = labelOf(k);
      const label = where(eq(labH, 0), ignore, labH);
      return where(eq(add(labH, labL), 0), 0, label);
    }),
  );
}

export interface DenormalizeOptions {
  /** Per-channel mean and std on the 0..255 scale (ImageNet, RGB, as ToCo/SeCo's imutils). */
  mean?: readonly number[];
  std?: readonly number[];
  /** Cast to uint8 (truncation toward zero) before /255 as SeCo's denormalize_img (§8 #10). false: keep the fraction. */
  truncate?: boolean;
}

/**
 * inputs_denorm = uint8(x·std + mean) / 255: the normalised (B, 3, H, W) image back to [0, 1] for PAR.
 * Values are clamped to [0, 255] before the cast, where PyTorch's float→uint8 conversion is undefined.
 */
export function denormalizeImage(inputs: Tensor, options: DenormalizeOptions = {}): Tensor {
  const mean = options.mean ?? [123.675, 116.28, 103.53];
  const std = options.std ?? [58.395, 57.12, 57.375];
  if (inputs.rank !== 4 || inputs.shape[1] !== mean.length || std.length !== mean.length) {
    throw shapeError('denormalizeImage', `needs (B, ${mean.length}, H, W) for ${mean.length} channel means and stds`, inputs.shape);
  }
  const ch = mean.length;
  return scope(() => {
    const v = add(mul(inputs, tensor(std, [1, ch, 1, 1])), tensor(mean, [1, ch, 1, 1]));
    const u8 = options.truncate === false ? v : floor(clamp(v, 0, 255));
    return div(u8, 255);
  });
}
