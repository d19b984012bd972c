// PAR, pixel-adaptive refinement (SeCo/ToCo model/PAR.py), composed from tensor ops.
import { abs, add, arange, clamp, concat, div, indexSelect, interpolate, mean, mul, narrow, neg, noGrad, reshape, scope, shapeError, softmax, sqrt, square, sub, sum, type Tensor, tensor, TensorError } from '@seco/tensor';

export interface ParOptions {
  dilations?: readonly number[];
  iterations?: number;
  /** Colour temperature: affinities are −(|ΔI| / σ_I / w1)². */
  w1?: number;
  /** Weight of the (constant) position term added to the colour softmax; the sum is not renormalised. */
  w2?: number;
  /**
   * Neighbours are gathered in chunks whose (B, K, chunk, h, w) intermediate stays under this many bytes
   * (at least one neighbour per chunk). Only speed and memory change, not the result beyond float summation order.
   */
  chunkBytes?: number;
}

export const PAR_DEFAULTS = { dilations: [1, 2, 4, 8, 12, 24], iterations: 10, w1: 0.3, w2: 0.01, chunkBytes: 64 * 2 ** 20 } as const;

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

/** Neighbour ranges [start, count) with at most `size` neighbours each. */
function chunks(n: number, size: number): [number, number][] {
  const out: [number, number][] = [];
  for (let s = 0; s < n; s += size) out.push([s, Math.min(size, n - s)]);
  return out;
}

/** How many neighbours of a (B, K, h, w) tensor fit in one gathered intermediate of `budget` bytes (≥ 1). */
function chunkSize(x: Tensor, n: number, budget: number): number {
  return Math.max(1, Math.min(n, Math.floor(budget / (4 * x.size))));
}

/**
 * Per-pixel neighbour weights A (B, n, h, w): softmax_n(mean_c −(|I(p+o_n) − I(p)| / (σ_I(p)+1e-8) / w1)²)
 * plus the position term. σ_I is the unbiased std over the n neighbour values (centre excluded), per channel,
 * from a mean pass and a squared-deviation pass over neighbour chunks.
 */
function affinity(img: Tensor, idx: Tensor, w1: number, pos: Float32Array, budget: number): Tensor {
  const n = idx.shape[0];
  const parts = chunks(n, chunkSize(img, n, budget));
  const gather = ([s, c]: [number, number]) => gatherNeighbours(img, narrow(idx, 0, s, c));
  const centre = img.unsqueeze(2);
  let total: Tensor | null = null;
  for (const r of parts) total = scope(() => (total ? add(total, sum(gather(r), 2, true)) : sum(gather(r), 2, true)));
  const avg = div(total!, n);
  let sq: Tensor | null = null;
  for (const r of parts) {
    sq = scope(() => {
      const s = sum(square(sub(gather(r), avg)), 2, true);
      return sq ? add(sq, s) : s;
    });
  }
  const denom = add(sqrt(div(sq!, n - 1)), 1e-8);
  const logits = parts.map((r) => scope(() => neg(mean(square(div(div(abs(sub(gather(r), centre)), denom), w1)), 1))));
  const colour = softmax(logits.length === 1 ? logits[0] : concat(logits, 1), 1);
  return add(colour, tensor(pos, [1, n, 1, 1]));
}

/** One propagation round: Σ_n A_n(p)·M(c, p+o_n), a chunk of neighbours at a time. */
function propagate(m: Tensor, idx: Tensor, aff: Tensor, budget: number): Tensor {
  let acc: Tensor | null = null;
  for (const [s, c] of chunks(idx.shape[0], chunkSize(m, idx.shape[0], budget))) {
    const part = sum(mul(gatherNeighbours(m, narrow(idx, 0, s, c)), narrow(aff, 1, s, c).unsqueeze(1)), 2);
    acc = acc ? add(acc, part) : part;
  }
  return acc!;
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
  const budget = options.chunkBytes ?? PAR_DEFAULTS.chunkBytes;
  const [, , h, w] = image.shape;
  return noGrad(() =>
    scope(() => {
      const idx = neighbourIndex(h, w, dilations);
      const aff = affinity(image, idx, w1, parPositionTerm(dilations, w1, w2), budget);
      let m = masks.shape[2] === h && masks.shape[3] === w ? masks : interpolate(masks, { size: [h, w], mode: 'bilinear', alignCorners: true });
      for (let it = 0; it < iterations; it++) {
        const prev = m;
        m = scope(() => propagate(prev, idx, aff, budget));
        if (prev !== masks) prev.dispose();
      }
      // The input itself is returned for 0 iterations at its own size; hand back a copy the caller owns.
      return m === masks ? m.clone() : m;
    }),
  );
}
