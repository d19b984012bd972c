// SeCo's training sample (docs/ALGORITHM.md §3.1): scaled, flipped, padded 448 crop with img_box (image / raw_image),
// its strongly augmented copy (s_image) and a second global view of the original (w_image).
// The order in which the random numbers are drawn is fixed here; it is part of what a seed reproduces.
import type { IndexMap, RgbImage } from '../image.ts';
import type { Rng } from '../rng.ts';
import type { AugConfig, ViewConfig } from './config.ts';
import { colorJitter, gaussianBlur, grayscale, hflip, solarize } from './photometric.ts';
import { resizePil } from './resample.ts';

/** [top, bottom, left, right) of the real image inside the crop, in crop pixels (SeCo's img_box). */
export type ImgBox = [number, number, number, number];

export interface CropParams {
  ratio: number;
  flip: boolean;
  scaledW: number;
  scaledH: number;
  /** Offset of the scaled image on the padded canvas and of the crop window on it. */
  padY: number;
  padX: number;
  startY: number;
  startX: number;
  imgBox: ImgBox;
}

/** random_scaling -> random_fliplr -> random_crop parameters, drawn in that order. */
export function drawCrop(width: number, height: number, cfg: AugConfig, rng: Rng): CropParams {
  const S = cfg.cropSize;
  const ratio = rng.uniform(cfg.scaleRange[0], cfg.scaleRange[1]);
  const scaledW = Math.max(1, Math.trunc(ratio * width));
  const scaledH = Math.max(1, Math.trunc(ratio * height));
  const flip = rng.random() < cfg.flipP;
  const H = Math.max(S, scaledH), W = Math.max(S, scaledW);
  const padY = rng.int(H - scaledH + 1);
  const padX = rng.int(W - scaledW + 1);
  const startY = rng.int(H - S + 1);
  const startX = rng.int(W - S + 1);
  const imgBox: ImgBox = [
    Math.max(padY - startY, 0),
    Math.min(S, scaledH + padY - startY),
    Math.max(padX - startX, 0),
    Math.min(S, scaledW + padX - startX),
  ];
  return { ratio, flip, scaledW, scaledH, padY, padX, startY, startX, imgBox };
}

/** The S x S crop (black outside img_box), resizing only the pixels that land in it. */
export function applyCrop(img: RgbImage, p: CropParams, S: number): RgbImage {
  const [t, b, l, r] = p.imgBox;
  const out = new Uint8Array(S * S * 3);
  if (b <= t || r <= l) return { width: S, height: S, data: out };
  const fy0 = t + p.startY - p.padY;
  const fx0 = l + p.startX - p.padX; // column in the (possibly flipped) scaled image
  const w = r - l, h = b - t;
  const x0 = p.flip ? p.scaledW - fx0 - w : fx0;
  const win = resizePil(img, 'bilinear', { outW: p.scaledW, outH: p.scaledH, x: x0, y: fy0, w, h });
  for (let y = 0; y < h; y++) {
    const drow = ((t + y) * S + l) * 3;
    const srow = y * w * 3;
    if (!p.flip) {
      out.set(win.data.subarray(srow, srow + w * 3), drow);
      continue;
    }
    for (let x = 0; x < w; x++) {
      const s = srow + (w - 1 - x) * 3, d = drow + x * 3;
      out[d] = win.data[s];
      out[d + 1] = win.data[s + 1];
      out[d + 2] = win.data[s + 2];
    }
  }
  return { width: S, height: S, data: out };
}

/** The same geometry on a mask: PIL NEAREST scaling, padding with 255 (ignore). */
export function applyCropMask(mask: IndexMap, p: CropParams, S: number): IndexMap {
  const out = new Uint8Array(S * S).fill(255);
  const [t, b, l, r] = p.imgBox;
  const sx = mask.width / p.scaledW, sy = mask.height / p.scaledH;
  for (let y = t; y < b; y++) {
    const fy = y + p.startY - p.padY;
    const my = Math.min(mask.height - 1, Math.trunc((fy + 0.5) * sy));
    for (let x = l; x < r; x++) {
      const fx = x + p.startX - p.padX;
      const ux = p.flip ? p.scaledW - 1 - fx : fx;
      const mx = Math.min(mask.width - 1, Math.trunc((ux + 0.5) * sx));
      out[y * S + x] = mask.data[my * mask.width + mx];
    }
  }
  return { width: S, height: S, data: out };
}

/** flip -> RandomApply(ColorJitter) -> RandomGrayscale -> GaussianBlur -> Solarization, as torchvision draws them. */
export function photometricView(src: RgbImage, v: ViewConfig, rng: Rng): RgbImage {
  const img = rng.random() < v.flipP ? hflip(src) : { ...src, data: src.data.slice() };
  if (rng.random() < v.jitterP) colorJitter(img, v.jitter, rng);
  if (rng.random() < v.grayP) grayscale(img);
  if (rng.random() < v.blurP) gaussianBlur(img, rng.uniform(v.blurRadius[0], v.blurRadius[1]));
  if (rng.random() < v.solarizeP) solarize(img);
  return img;
}

/** torchvision RandomResizedCrop.get_params: [top, left, height, width]. */
export function drawResizedCrop(width: number, height: number, scale: [number, number], ratio: [number, number], rng: Rng): [number, number, number, number] {
  const area = width * height;
  const lr0 = Math.log(ratio[0]), lr1 = Math.log(ratio[1]);
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * rng.uniform(scale[0], scale[1]);
    const aspect = Math.exp(rng.uniform(lr0, lr1));
    const w = Math.round(Math.sqrt(target * aspect));
    const h = Math.round(Math.sqrt(target / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      return [rng.int(height - h + 1), rng.int(width - w + 1), h, w];
    }
  }
  const inRatio = width / height;
  let w: number, h: number;
  if (inRatio < Math.min(...ratio)) {
    w = width;
    h = Math.round(w / Math.min(...ratio));
  } else if (inRatio > Math.max(...ratio)) {
    h = height;
    w = Math.round(h * Math.max(...ratio));
  } else {
    w = width;
    h = height;
  }
  return [Math.trunc((height - h) / 2), Math.trunc((width - w) / 2), h, w];
}

export interface SecoViews {
  /** image == raw_image: the crop, no photometric change. */
  crop: RgbImage;
  /** s_image: local view of the crop. */
  strong: RgbImage;
  /** w_image: second global view of the original image. */
  global2: RgbImage;
  imgBox: ImgBox;
  params: CropParams;
}

export function secoViews(img: RgbImage, cfg: AugConfig, rng: Rng): SecoViews {
  const S = cfg.cropSize;
  const params = drawCrop(img.width, img.height, cfg, rng);
  const crop = applyCrop(img, params, S);
  const strong = photometricView(crop, cfg.local, rng);
  const g = cfg.global2;
  const [top, left, h, w] = drawResizedCrop(img.width, img.height, g.scale, g.ratio, rng);
  const rrc = resizePil(img, 'bicubic', { box: [left, top, left + w, top + h], outW: S, outH: S });
  const global2 = photometricView(rrc, g, rng);
  return { crop, strong, global2, imgBox: params.imgBox, params };
}
