import { PermutohedralLattice } from './lattice.ts';

/** SeCo's tools/infer_seg_voc.py CRF: Gaussian (sxy 1, compat 1) + bilateral (sxy 121, srgb 5, compat 4), 10 iterations. */
export interface DenseCrfOptions {
  iterations: number;
  gaussianSxy: number;
  gaussianCompat: number;
  bilateralSxy: number;
  bilateralSrgb: number;
  bilateralCompat: number;
}

export const SECO_CRF: DenseCrfOptions = {
  iterations: 10,
  gaussianSxy: 1,
  gaussianCompat: 1,
  bilateralSxy: 121,
  bilateralSrgb: 5,
  bilateralCompat: 4,
};

/** A Gaussian kernel with DenseCRF's symmetric normalisation n_i = 1/sqrt(Σ_j k_ij). */
class NormalizedKernel {
  private readonly lattice: PermutohedralLattice;
  private readonly norm: Float32Array;

  constructor(
    features: Float32Array,
    readonly n: number,
    d: number,
    readonly weight: number,
  ) {
    this.lattice = new PermutohedralLattice(features, n, d);
    const raw = this.lattice.filter(new Float32Array(n).fill(1), 1);
    this.norm = raw.map((v) => 1 / Math.sqrt(v + 1e-20));
  }

  /** out += weight · n ⊙ K(n ⊙ q), the Potts message (q is (n, c)). */
  addMessage(q: Float32Array, c: number, out: Float32Array, scratch: Float32Array): void {
    for (let p = 0; p < this.n; p++) for (let k = 0; k < c; k++) scratch[p * c + k] = q[p * c + k] * this.norm[p];
    const f = this.lattice.filter(scratch, c);
    for (let p = 0; p < this.n; p++) {
      const s = this.weight * this.norm[p];
      for (let k = 0; k < c; k++) out[p * c + k] += s * f[p * c + k];
    }
  }
}

export interface DenseCrfResult {
  /** Marginals, (C, H, W) row-major like the input. */
  q: Float32Array;
  /** argmax over classes, (H, W). */
  labels: Uint8Array;
}

/**
 * Mean-field DenseCRF (Krähenbühl & Koltun) on class probabilities `prob` (C, H, W) and an RGB image
 * (H, W, 3, uint8), with unary −log(clip(prob, 1e-5, 1)) as pydensecrf's unary_from_softmax.
 */
export function denseCrf(
  image: Uint8Array | Uint8ClampedArray,
  prob: Float32Array,
  c: number,
  h: number,
  w: number,
  options: DenseCrfOptions = SECO_CRF,
): DenseCrfResult {
  const n = h * w;
  if (prob.length !== c * n) throw new Error(`denseCrf: probabilities hold ${prob.length} values, expected ${c}x${h}x${w}`);
  if (image.length !== n * 3) throw new Error(`denseCrf: image holds ${image.length} values, expected ${h}x${w}x3`);
  const gauss = new Float32Array(n * 2);
  const bilat = new Float32Array(n * 5);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const p = y * w + x;
      gauss[2 * p] = x / options.gaussianSxy;
      gauss[2 * p + 1] = y / options.gaussianSxy;
      bilat[5 * p] = x / options.bilateralSxy;
      bilat[5 * p + 1] = y / options.bilateralSxy;
      for (let k = 0; k < 3; k++) bilat[5 * p + 2 + k] = image[3 * p + k] / options.bilateralSrgb;
    }
  }
  const kernels = [
    new NormalizedKernel(gauss, n, 2, options.gaussianCompat),
    new NormalizedKernel(bilat, n, 5, options.bilateralCompat),
  ];
  // Pixel-major (n, c) layout keeps each pixel's classes together for the lattice.
  const negUnary = new Float32Array(n * c);
  for (let k = 0; k < c; k++) {
    for (let p = 0; p < n; p++) negUnary[p * c + k] = Math.log(Math.min(Math.max(prob[k * n + p], 1e-5), 1));
  }
  let q = softmaxRows(negUnary, n, c);
  const logits = new Float32Array(n * c);
  const scratch = new Float32Array(n * c);
  for (let it = 0; it < options.iterations; it++) {
    logits.set(negUnary);
    for (const kernel of kernels) kernel.addMessage(q, c, logits, scratch);
    q = softmaxRows(logits, n, c);
  }
  const out = new Float32Array(c * n);
  const labels = new Uint8Array(n);
  for (let p = 0; p < n; p++) {
    let best = 0;
    for (let k = 0; k < c; k++) {
      out[k * n + p] = q[p * c + k];
      if (q[p * c + k] > q[p * c + best]) best = k;
    }
    labels[p] = best;
  }
  return { q: out, labels };
}

function softmaxRows(x: Float32Array, n: number, c: number): Float32Array {
  const out = new Float32Array(n * c);
  for (let p = 0; p < n; p++) {
    let mx = -Infinity;
    for (let k = 0; k < c; k++) mx = Math.max(mx, x[p * c + k]);
    let s = 0;
    for (let k = 0; k < c; k++) {
      const e = Math.exp(x[p * c + k] - mx);
      out[p * c + k] = e;
      s += e;
    }
    for (let k = 0; k < c; k++) out[p * c + k] /= s;
  }
  return out;
}
