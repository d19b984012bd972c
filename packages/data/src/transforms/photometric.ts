// The PIL/torchvision photometric ops SeCo's views use, on 8-bit RGB, in place where possible.
// Rounding follows PIL (truncating blends, fixed-point luma) so statistics match the reference pipeline.
import type { RgbImage } from '../image.ts';
import type { Rng } from '../rng.ts';

export function hflip(img: RgbImage): RgbImage {
  const { width: w, height: h, data } = img;
  const out = new Uint8Array(data.length);
  for (let y = 0; y < h; y++) {
    const row = y * w * 3;
    for (let x = 0; x < w; x++) {
      const s = row + x * 3, d = row + (w - 1 - x) * 3;
      out[d] = data[s];
      out[d + 1] = data[s + 1];
      out[d + 2] = data[s + 2];
    }
  }
  return { width: w, height: h, data: out };
}

/** PIL convert('L'): ITU-R 601-2 luma in 16-bit fixed point. */
function luma(r: number, g: number, b: number): number {
  return (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16;
}

export function grayscale(img: RgbImage): void {
  const d = img.data;
  for (let i = 0; i < d.length; i += 3) d[i] = d[i + 1] = d[i + 2] = luma(d[i], d[i + 1], d[i + 2]);
}

/** Image.blend(degenerate, img, alpha): PIL computes in C float (fround here), truncates, clips. */
function blendInto(d: Uint8Array, degenerate: (i: number) => number, alpha: number): void {
  const f = Math.fround;
  const al = f(alpha);
  for (let i = 0; i < d.length; i++) {
    const a = degenerate(i);
    const t = f(a + f(al * (d[i] - a)));
    d[i] = t <= 0 ? 0 : t >= 255 ? 255 : t | 0;
  }
}

export function adjustBrightness(img: RgbImage, f: number): void {
  blendInto(img.data, () => 0, f);
}

export function adjustContrast(img: RgbImage, f: number): void {
  const d = img.data;
  let sum = 0;
  for (let i = 0; i < d.length; i += 3) sum += luma(d[i], d[i + 1], d[i + 2]);
  const mean = Math.trunc(sum / (d.length / 3) + 0.5);
  blendInto(d, () => mean, f);
}

export function adjustSaturation(img: RgbImage, f: number): void {
  const d = img.data;
  const gray = new Uint8Array(d.length / 3);
  for (let i = 0, j = 0; i < d.length; i += 3, j++) gray[j] = luma(d[i], d[i + 1], d[i + 2]);
  blendInto(d, (i) => gray[(i / 3) | 0], f);
}

/**
 * torchvision adjust_hue on PIL: shift PIL's 8-bit HSV hue by uint8(f * 255) with wrap-around. PIL's
 * rgb2hsv/hsv2rgb keep intermediates in C floats; Math.fround at each float store reproduces its rounding.
 */
export function adjustHue(img: RgbImage, factor: number): void {
  const f32 = Math.fround;
  const shift = ((Math.trunc(factor * 255) % 256) + 256) % 256;
  const d = img.data;
  for (let i = 0; i < d.length; i += 3) {
    const r = d[i], g = d[i + 1], b = d[i + 2];
    const maxc = Math.max(r, g, b), minc = Math.min(r, g, b);
    if (maxc === minc) continue; // s = 0: hue is irrelevant, PIL returns (v, v, v) which is the input
    const cr = maxc - minc;
    const s = f32(cr / maxc);
    const rc = f32((maxc - r) / cr), gc = f32((maxc - g) / cr), bc = f32((maxc - b) / cr);
    let h = f32(r === maxc ? bc - gc : g === maxc ? 2 + rc - bc : 4 + gc - rc); // C: double sums, stored as float
    h = f32((h / 6 + 1) % 1);
    const s8 = Math.min(255, (s * 255) | 0);
    const h8 = (Math.min(255, Math.max(0, (h * 255) | 0)) + shift) & 255;
    const v = maxc;
    if (s8 === 0) {
      d[i] = d[i + 1] = d[i + 2] = v;
      continue;
    }
    const k = Math.floor((h8 * 6) / 255);
    const fr = f32((h8 * 6) / 255 - k), fs = f32(s8 / 255);
    // Arguments are >= 0, so (x + 0.5) | 0 is C's round(); Math.round is several times slower here.
    const p = clamp8((v * (1 - fs) + 0.5) | 0);
    const q = clamp8((v * (1 - fs * fr) + 0.5) | 0);
    const t = clamp8((v * (1 - fs * (1 - fr)) + 0.5) | 0);
    let o: [number, number, number];
    switch (k % 6) {
      case 0: o = [v, t, p]; break;
      case 1: o = [q, v, p]; break;
      case 2: o = [p, v, t]; break;
      case 3: o = [p, q, v]; break;
      case 4: o = [t, p, v]; break;
      default: o = [v, p, q];
    }
    d[i] = o[0];
    d[i + 1] = o[1];
    d[i + 2] = o[2];
  }
}

function clamp8(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

export interface JitterParams {
  brightness: number;
  contrast: number;
  saturation: number;
  hue: number;
}

/** torchvision ColorJitter: factors drawn from [1-x, 1+x] (hue from [-x, x]), applied in a random order. */
export function colorJitter(img: RgbImage, p: JitterParams, rng: Rng): void {
  const order = rng.permutation(4);
  const b = rng.uniform(Math.max(0, 1 - p.brightness), 1 + p.brightness);
  const c = rng.uniform(Math.max(0, 1 - p.contrast), 1 + p.contrast);
  const s = rng.uniform(Math.max(0, 1 - p.saturation), 1 + p.saturation);
  const h = rng.uniform(-p.hue, p.hue);
  for (const fn of order) {
    if (fn === 0 && p.brightness > 0) adjustBrightness(img, b);
    else if (fn === 1 && p.contrast > 0) adjustContrast(img, c);
    else if (fn === 2 && p.saturation > 0) adjustSaturation(img, s);
    else if (fn === 3 && p.hue > 0) adjustHue(img, h);
  }
}

/** PIL ImageOps.solarize: invert every value >= threshold. */
export function solarize(img: RgbImage, threshold = 128): void {
  const d = img.data;
  for (let i = 0; i < d.length; i++) if (d[i] >= threshold) d[i] = 255 - d[i];
}

/**
 * PIL ImageFilter.GaussianBlur(radius): three extended box blurs per axis (Gwosdek et al. 2011) whose
 * fractional radius matches the Gaussian's variance, edges extended, in PIL's 24-bit fixed point with 8-bit
 * rounding after every pass.
 */
export function gaussianBlur(img: RgbImage, radius: number): void {
  if (radius <= 0) return;
  const passes = 3;
  const sigma2 = (radius * radius) / passes;
  const L = Math.sqrt(12 * sigma2 + 1);
  const l = Math.floor((L - 1) / 2);
  const a = ((2 * l + 1) * (l * (l + 1) - 3 * sigma2)) / (6 * (sigma2 - (l + 1) * (l + 1)));
  // Weights as PIL's ImagingLineBoxBlur: ww per full tap, fw per edge tap, summing to exactly 1 << 24.
  const ww = Math.floor(16777216 / (2 * (l + a) + 1));
  const fw = Math.floor((16777216 - (2 * l + 1) * ww) / 2);
  const { width: w, height: h, data } = img;
  // Horizontal passes run as vertical ones on the transposed image: every pass then reads memory in order.
  const t = new Uint8Array(data.length);
  transpose(data, t, w, h);
  const th = boxRows(t, h * 3, w, l, ww, fw, passes);
  transpose(th, t, h, w);
  data.set(boxRows(t, w * 3, h, l, ww, fw, passes));
}

/** (h rows of w RGB pixels) -> (w rows of h RGB pixels). */
function transpose(src: Uint8Array, dst: Uint8Array, w: number, h: number): void {
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const s = (y * w + x) * 3, d = (x * h + y) * 3;
      dst[d] = src[s];
      dst[d + 1] = src[s + 1];
      dst[d + 2] = src[s + 2];
    }
  }
}

/** Box passes down the columns of a (rows x W) plane, edges repeated; returns the buffer holding the result. */
function boxRows(src: Uint8Array, W: number, rows: number, l: number, ww: number, fw: number, passes: number): Uint8Array {
  src = src.slice();
  let dst: Uint8Array = new Uint8Array(src.length);
  const sum = new Int32Array(W);
  const row = (y: number) => (y < 0 ? 0 : y >= rows ? rows - 1 : y) * W;
  for (let p = 0; p < passes; p++) {
    sum.fill(0);
    for (let k = -l; k <= l; k++) {
      const r = row(k);
      for (let j = 0; j < W; j++) sum[j] += src[r + j];
    }
    for (let y = 0; y < rows; y++) {
      const before = row(y - l - 1), after = row(y + l + 1), leaving = row(y - l), o = y * W;
      for (let j = 0; j < W; j++) {
        // The total stays below 2^32 (weights sum to 2^24, values to 255), so >>> 24 is exact.
        dst[o + j] = (sum[j] * ww + (src[before + j] + src[after + j]) * fw + 8388608) >>> 24;
        sum[j] += src[after + j] - src[leaving + j];
      }
    }
    [src, dst] = [dst, src];
  }
  return src;
}
