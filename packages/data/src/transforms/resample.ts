// PIL's Image.resize (ImagingResample) for 8-bit RGB: separable convolution whose support grows with the
// downscale factor (antialiased), fixed-point coefficients, uint8 rounding between the passes. SeCo resizes with
// PIL, so matching its filter keeps the statistics of the inputs. The output can be a window of the full resized
// image, so a 448 crop of a 2x upscale costs a 448 crop, not the whole image.
import type { RgbImage } from '../image.ts';

export type Filter = 'bilinear' | 'bicubic';

const SUPPORT: Record<Filter, number> = { bilinear: 1, bicubic: 2 };

function kernel(f: Filter, x: number): number {
  x = Math.abs(x);
  if (f === 'bilinear') return x < 1 ? 1 - x : 0;
  const a = -0.5;
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

const PRECISION_BITS = 32 - 8 - 2;
const ONE = 1 << PRECISION_BITS;
const HALF = 1 << (PRECISION_BITS - 1);

interface Coeffs {
  bounds: Int32Array; // per output: first input index, count
  k: Int32Array; // ksize per output, fixed point
  ksize: number;
}

/** Coefficients for outputs first..first+count-1 of resizing [in0, in1) of an axis of inSize to outSize. */
function coeffs(inSize: number, in0: number, in1: number, outSize: number, first: number, count: number, f: Filter): Coeffs {
  const scale = (in1 - in0) / outSize;
  const filterscale = Math.max(scale, 1);
  const support = SUPPORT[f] * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(count * 2);
  const k = new Int32Array(count * ksize);
  const w = new Float64Array(ksize);
  const ss = 1 / filterscale;
  for (let o = 0; o < count; o++) {
    const center = in0 + (first + o + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      w[x] = kernel(f, (x + xmin - center + 0.5) * ss);
      ww += w[x];
    }
    for (let x = 0; x < xmax; x++) {
      const v = ww !== 0 ? w[x] / ww : 0;
      k[o * ksize + x] = Math.trunc(v < 0 ? v * ONE - 0.5 : v * ONE + 0.5);
    }
    bounds[2 * o] = xmin;
    bounds[2 * o + 1] = xmax;
  }
  return { bounds, k, ksize };
}

function clip8(v: number): number {
  v = (v + HALF) >> PRECISION_BITS; // sums stay below 2^31 for 8-bit input
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

export interface ResizeWindow {
  /** Region of the source to resize, [x0, y0, x1, y1]; defaults to the whole image. */
  box?: [number, number, number, number];
  /** Size of the full resized image. */
  outW: number;
  outH: number;
  /** Window of the resized image to compute; defaults to all of it. */
  x?: number;
  y?: number;
  w?: number;
  h?: number;
}

/** PIL-exact resize of `img` (or a window of the result). */
export function resizePil(img: RgbImage, filter: Filter, opt: ResizeWindow): RgbImage {
  const [bx0, by0, bx1, by1] = opt.box ?? [0, 0, img.width, img.height];
  const wx = opt.x ?? 0;
  const wy = opt.y ?? 0;
  const ww = opt.w ?? opt.outW;
  const wh = opt.h ?? opt.outH;
  const cx = coeffs(img.width, bx0, bx1, opt.outW, wx, ww, filter);
  const cy = coeffs(img.height, by0, by1, opt.outH, wy, wh, filter);
  // Rows of the source the vertical pass reads.
  let r0 = Infinity, r1 = 0;
  for (let o = 0; o < wh; o++) {
    r0 = Math.min(r0, cy.bounds[2 * o]);
    r1 = Math.max(r1, cy.bounds[2 * o] + cy.bounds[2 * o + 1]);
  }
  if (wh === 0) r0 = r1 = 0;
  const needH = img.width !== opt.outW || bx0 !== 0 || bx1 !== opt.outW;
  const needV = img.height !== opt.outH || by0 !== 0 || by1 !== opt.outH;
  const src = img.data;
  const sw = img.width;
  const rows = r1 - r0;
  // Horizontal pass into rows r0..r1 of a temporary ww-wide image.
  const tmp = new Uint8Array(rows * ww * 3);
  for (let y = 0; y < rows; y++) {
    const srow = (r0 + y) * sw * 3;
    const trow = y * ww * 3;
    for (let o = 0; o < ww; o++) {
      if (!needH) {
        const s = srow + (wx + o) * 3;
        tmp[trow + o * 3] = src[s];
        tmp[trow + o * 3 + 1] = src[s + 1];
        tmp[trow + o * 3 + 2] = src[s + 2];
        continue;
      }
      const xmin = cx.bounds[2 * o], n = cx.bounds[2 * o + 1], kb = o * cx.ksize;
      let a = 0, b = 0, c = 0;
      for (let x = 0; x < n; x++) {
        const kv = cx.k[kb + x], s = srow + (xmin + x) * 3;
        a += src[s] * kv;
        b += src[s + 1] * kv;
        c += src[s + 2] * kv;
      }
      tmp[trow + o * 3] = clip8(a);
      tmp[trow + o * 3 + 1] = clip8(b);
      tmp[trow + o * 3 + 2] = clip8(c);
    }
  }
  const out = new Uint8Array(ww * wh * 3);
  const stride = ww * 3;
  for (let o = 0; o < wh; o++) {
    const orow = o * stride;
    if (!needV) {
      out.set(tmp.subarray((wy + o - r0) * stride, (wy + o - r0 + 1) * stride), orow);
      continue;
    }
    const ymin = cy.bounds[2 * o] - r0, n = cy.bounds[2 * o + 1], kb = o * cy.ksize;
    for (let i = 0; i < stride; i++) {
      let a = 0;
      for (let y = 0; y < n; y++) a += tmp[(ymin + y) * stride + i] * cy.k[kb + y];
      out[orow + i] = clip8(a);
    }
  }
  return { width: ww, height: wh, data: out };
}

/** torch.nn.functional.interpolate(mode='bilinear', align_corners=False), no antialias, to float 0..255 CHW. */
export function resizeBilinearTorchCHW(img: RgbImage, outW: number, outH: number): Float32Array {
  const out = new Float32Array(3 * outW * outH);
  const sx = img.width / outW, sy = img.height / outH;
  const plane = outW * outH;
  for (let oy = 0; oy < outH; oy++) {
    const fy = Math.max((oy + 0.5) * sy - 0.5, 0);
    const y0 = Math.min(Math.floor(fy), img.height - 1);
    const y1 = Math.min(y0 + 1, img.height - 1);
    const ly = fy - y0;
    for (let ox = 0; ox < outW; ox++) {
      const fx = Math.max((ox + 0.5) * sx - 0.5, 0);
      const x0 = Math.min(Math.floor(fx), img.width - 1);
      const x1 = Math.min(x0 + 1, img.width - 1);
      const lx = fx - x0;
      for (let c = 0; c < 3; c++) {
        const p00 = img.data[(y0 * img.width + x0) * 3 + c], p01 = img.data[(y0 * img.width + x1) * 3 + c];
        const p10 = img.data[(y1 * img.width + x0) * 3 + c], p11 = img.data[(y1 * img.width + x1) * 3 + c];
        out[c * plane + oy * outW + ox] = (1 - ly) * ((1 - lx) * p00 + lx * p01) + ly * ((1 - lx) * p10 + lx * p11);
      }
    }
  }
  return out;
}
