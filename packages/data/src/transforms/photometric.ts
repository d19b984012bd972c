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

/** Image.blend(degenerate, img, alpha) with PIL's truncation and clipping. */
function blendInto(d: Uint8Array, degenerate: (i: number) => number, alpha: number): void {
  for (let i = 0; i < d.length; i++) {
    const a = degenerate(i);
    const t = a + alpha * (d[i] - a);
    d[i] = t <= 0 ? 0 : t >= 255 ? 255 : Math.trunc(t);
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

/** torchvision adjust_hue on PIL: shift PIL's 8-bit HSV hue by uint8(f * 255) with wrap-around. */
export function adjustHue(img: RgbImage, f: number): void {
  const shift = ((Math.trunc(f * 255) % 256) + 256) % 256;
  const d = img.data;
  for (let i = 0; i < d.length; i += 3) {
    const r = d[i], g = d[i + 1], b = d[i + 2];
    const maxc = Math.max(r, g, b), minc = Math.min(r, g, b);
    if (maxc === minc) continue; // s = 0: hue is irrelevant, PIL returns (v, v, v) which is the input
    const cr = maxc - minc;
    const s8 = Math.min(255, Math.trunc((cr / maxc) * 255));
    const rc = (maxc - r) / cr, gc = (maxc - g) / cr, bc = (maxc - b) / cr;
    let h = r === maxc ? bc - gc : g === maxc ? 2 + rc - bc : 4 + gc - rc;
    h = (h / 6 + 1) % 1;
    const h8 = (Math.min(255, Math.max(0, Math.trunc(h * 255))) + shift) & 255;
    const v = maxc;
    if (s8 === 0) {
      d[i] = d[i + 1] = d[i + 2] = v;
      continue;
    }
    const hh = (h8 * 6) / 255;
    const k = Math.floor(hh);
    const fr = hh - k, fs = s8 / 255;
    const p = clamp8(Math.round(v * (1 - fs)));
    const q = clamp8(Math.round(v * (1 - fs * fr)));
    const t = clamp8(Math.round(v * (1 - fs * (1 - fr))));
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
 * fractional radius matches the Gaussian's variance, edges extended, rounded to 8 bits after every pass.
 */
export function gaussianBlur(img: RgbImage, radius: number): void {
  if (radius <= 0) return;
  const passes = 3;
  const sigma2 = (radius * radius) / passes;
  const L = Math.sqrt(12 * sigma2 + 1);
  const l = Math.floor((L - 1) / 2);
  const a = ((2 * l + 1) * (l * (l + 1) - 3 * sigma2)) / (6 * (sigma2 - (l + 1) * (l + 1)));
  const box = l + a;
  const { width: w, height: h, data } = img;
  const line = new Float64Array(Math.max(w, h));
  const res = new Float64Array(Math.max(w, h));
  const run = (n: number, get: (i: number) => number, set: (i: number, v: number) => void) => {
    for (let i = 0; i < n; i++) line[i] = get(i);
    for (let p = 0; p < passes; p++) {
      boxLine(line, res, n, l, a, box);
      for (let i = 0; i < n; i++) line[i] = Math.round(res[i]);
    }
    for (let i = 0; i < n; i++) set(i, line[i]);
  };
  for (let y = 0; y < h; y++) {
    for (let c = 0; c < 3; c++) {
      const base = y * w * 3 + c;
      run(w, (i) => data[base + i * 3], (i, v) => (data[base + i * 3] = v));
    }
  }
  for (let x = 0; x < w; x++) {
    for (let c = 0; c < 3; c++) {
      const base = x * 3 + c;
      run(h, (i) => data[base + i * w * 3], (i, v) => (data[base + i * w * 3] = v));
    }
  }
}

/** One box pass of integer half-width l plus fractional edge weight a; out-of-range samples repeat the edge. */
function boxLine(src: Float64Array, dst: Float64Array, n: number, l: number, a: number, radius: number): void {
  const at = (i: number) => src[i < 0 ? 0 : i >= n ? n - 1 : i];
  const norm = 1 / (2 * radius + 1);
  let sum = 0;
  for (let k = -l; k <= l; k++) sum += at(k);
  for (let i = 0; i < n; i++) {
    dst[i] = (sum + a * (at(i - l - 1) + at(i + l + 1))) * norm;
    sum += at(i + l + 1) - at(i - l);
  }
}
