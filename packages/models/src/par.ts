// PAR, pixel-adaptive refinement (SeCo/ToCo model/PAR.py), composed from tensor ops.
import {
  abs,
  add,
  arange,
  clamp,
  concat,
  div,
  indexSelect,
  interpolate,
  mean,
  mul,
  narrow,
  neg,
  noGrad,
  reshape,
  scope,
  softmax,
  sqrt,
  square,
  sub,
  sum,
  type Tensor,
  tensor,
  TensorError,
} from '@seco/tensor';
import { shapeError } from './shape_check.ts';

export interface ParOptions {
  dilations?: readonly number[];
  iterations?: number;
  /** Colour temperature: affinities are −(|ΔI| / σ_I / w1)². */
  w1?: number;
  /** Weight of the (constant) position term added to the colour softmax; the sum is not renormalised. */
  w2?: number;
}

export const PAR_DEFAULTS = { dilations: [1, 2, 4, 8, 12, 24], iterations: 10, w1: 0.3, w2: 0.01 } as const;

/** The 8 neighbours of a 3×3 kernel in PAR.get_kernel's order (row, column), scaled by each dilation. */
const OFFSETS: readonly (readonly [number, number])[] = [
  [-1, -1],
  [-1, 0],
  [-1, 1],
  [0, -1],
  [0, 1],
  [1, -1],
  [1, 0],
  [1, 1],
];
const GROUP = OFFSETS.length;

/**
 * Flat source pixel of every neighbour, (8·|dilations|, h, w) i32. Clamping the coordinates is exactly
 * F.pad(mode='replicate') followed by the dilated one-hot conv2d of the reference.
 */
function neighbourIndex(h: number, w: number, dilations: readonly number[]): Tensor {
  const dy = dilations.flatMap((d) => OFFSETS.map(([r]) => r * d));
  const dx = dilations.flatMap((d) => OFFSETS.map(([, c]) => c * d));
  const n = dy.length;
  const rows = clamp(add(reshape(arange(h, 'i32'), [1, h, 1]), tensor(dy, [n, 1, 1], 'i32')), 0, h - 1);
  const cols = clamp(add(reshape(arange(w, 'i32'), [1, 1, w]), tensor(dx, [n, 1, 1], 'i32')), 0, w - 1);
  return add(mul(rows, w), cols);
}

/** x (B, K, h, w) → its neighbours picked by idx (n, h, w): (B, K, n, h, w). */
function gatherNeighbours(x: Tensor, idx: Tensor): Tensor {
  const [b, k, h, w] = x.shape;
  return indexSelect(reshape(x, [b, k, h * w]), 2, idx);
}

/**
 * w2 · softmax over the neighbours of −(dist / σ_dist / w1)², a constant. The distances are float32 as in
 * the reference (√2 rounded to f32, times d); σ is the unbiased std of the 8·|dilations| distances.
 */
export function parPositionTerm(dilations: readonly number[], w1: number, w2: number): Float32Array {
  const sqrt2 = Math.fround(Math.SQRT2);
  const dist = dilations.flatMap((d) => OFFSETS.map(([r, c]) => Math.fround((r !== 0 && c !== 0 ? sqrt2 : 1) * d)));
  const n = dist.length;
  const m = dist.reduce((a, v) => a + v, 0) / n;
  const std = Math.sqrt(dist.reduce((a, v) => a + (v - m) ** 2, 0) / (n - 1));
  const logits = dist.map((v) => -((v / (std + 1e-8) / w1) ** 2));
  const top = Math.max(...logits);
  const e = logits.map((v) => Math.exp(v - top));
  const z = e.reduce((a, v) => a + v, 0);
  return Float32Array.from(e, (v) => (w2 * v) / z);
}

/**
 * Per-pixel neighbour weights A (B, n, h, w): softmax_n(mean_c −(|I(p+o_n) − I(p)| / (σ_I(p)+1e-8) / w1)²)
 * plus the position term. σ_I is the unbiased std over the n neighbour values (centre excluded), per channel.
 * Neighbours are gathered one dilation (8 offsets) at a time so the peak intermediate is 8× the image, not 48×.
 */
function affinity(img: Tensor, idx: Tensor, groups: number, w1: number, pos: Float32Array): Tensor {
  const n = groups * GROUP;
  const chunk = (g: number) => gatherNeighbours(img, narrow(idx, 0, g * GROUP, GROUP));
  const centre = img.unsqueeze(2);
  let total: Tensor | null = null;
  for (let g = 0; g < groups; g++) total = scope(() => (total ? add(total, sum(chunk(g), 2, true)) : sum(chunk(g), 2, true)));
  const avg = div(total!, n);
  let sq: Tensor | null = null;
  for (let g = 0; g < groups; g++) {
    sq = scope(() => {
      const s = sum(square(sub(chunk(g), avg)), 2, true);
      return sq ? add(sq, s) : s;
    });
  }
  const denom = add(sqrt(div(sq!, n - 1)), 1e-8);
  const parts: Tensor[] = [];
  for (let g = 0; g < groups; g++) {
    parts.push(scope(() => neg(mean(square(div(div(abs(sub(chunk(g), centre)), denom), w1)), 1))));
  }
  const colour = softmax(concat(parts, 1), 1);
  return add(colour, tensor(pos, [1, n, 1, 1]));
}

/**
 * PAR(image, masks): 10 rounds of M(c,p) ← Σ_n A_n(p)·M(c, p+o_n) with replicate padding. image (B, 3, H, W),
 * masks (B, K, h, w) (bilinearly resized to H×W with align_corners=True first, as the reference). Channels
 * are refined independently with the same weights. Runs without gradient (SeCo calls it under no_grad).
 */
export function par(image: Tensor, masks: Tensor, options: ParOptions = {}): Tensor {
  const dilations = options.dilations ?? PAR_DEFAULTS.dilations;
  const iterations = options.iterations ?? PAR_DEFAULTS.iterations;
  const w1 = options.w1 ?? PAR_DEFAULTS.w1;
  const w2 = options.w2 ?? PAR_DEFAULTS.w2;
  if (image.rank !== 4 || masks.rank !== 4 || image.shape[0] !== masks.shape[0]) {
    throw shapeError('par', 'needs image (B, C, H, W) and masks (B, K, h, w) with the same batch', image.shape, masks.shape);
  }
  if (image.dtype !== 'f32' || masks.dtype !== 'f32') throw new TensorError('par', `needs f32 image and masks, got ${image.dtype} and ${masks.dtype}`);
  if (dilations.length === 0 || dilations.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new TensorError('par', `dilations must be positive integers, got [${dilations.join(', ')}]`);
  }
  if (!Number.isInteger(iterations) || iterations < 0) throw new TensorError('par', `iterations must be a non-negative integer, got ${iterations}`);
  const [, , h, w] = image.shape;
  return noGrad(() =>
    scope(() => {
      const idx = neighbourIndex(h, w, dilations);
      const aff = affinity(image, idx, dilations.length, w1, parPositionTerm(dilations, w1, w2));
      let m = masks.shape[2] === h && masks.shape[3] === w ? masks : interpolate(masks, { size: [h, w], mode: 'bilinear', alignCorners: true });
      for (let it = 0; it < iterations; it++) {
        const prev = m;
        m = scope(() => {
          let acc: Tensor | null = null;
          for (let g = 0; g < dilations.length; g++) {
            const a = narrow(aff, 1, g * GROUP, GROUP).unsqueeze(1);
            const s = sum(mul(gatherNeighbours(prev, narrow(idx, 0, g * GROUP, GROUP)), a), 2);
            acc = acc ? add(acc, s) : s;
          }
          return acc!;
        });
        if (prev !== masks) prev.dispose();
      }
      // The input itself is returned for 0 iterations at its own size; hand back a copy the caller owns.
      return m === masks ? m.clone() : m;
    }),
  );
}
