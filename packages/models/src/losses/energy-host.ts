import { type BilateralFilterKind, bilateralFeatures, bilateralFilter } from './bilateral.ts';

/** The half-resolution inputs of rloss' DenseEnergyLossFunction, planar and row-major. */
export interface EnergyHostInputs {
  /** (B, 3, h, w) on the 0..255 scale. */
  image: Float32Array;
  /** (B, K, h, w) softmax probabilities. */
  prob: Float32Array;
  /** (B, h, w) 1 inside the image box, else 0. */
  roi: Float32Array;
  /** (B, h, w) 1 where the label is 255 (unlabelled). */
  unlabeled: Uint8Array;
  B: number;
  K: number;
  h: number;
  w: number;
}

export interface EnergyHostResult {
  /** −Σ S·ROI·AS_gated / B, without the weight. */
  loss: number;
  /** (B, h, w): max(ROI − max_k S_k, 0), 1 where unlabelled (before the clamp). */
  gate: Float32Array;
  /** (B, K, h, w): the filtered S·ROI before the gate. */
  filtered: Float32Array;
  /** (B, K, h, w): rloss' backward ∂L/∂S = −2·AS_gated·ROI/B (gate constant, filter assumed symmetric). */
  gradProb: Float32Array;
}

export interface EnergyHostOptions {
  sigmaRgb: number;
  /** Already multiplied by the scale factor (rloss gets sigma_xy·scale_factor). */
  sigmaXy: number;
  filter: BilateralFilterKind;
  /** rloss' SSE padding of the pixels to a multiple of 4 (bilateralFilter's ssePad); default true. */
  ssePadding?: boolean;
}

/** rloss' forward and custom backward on the host (spec §3.6f steps 3–8), one lattice per image. */
export function energyHost(x: EnergyHostInputs, o: EnergyHostOptions): EnergyHostResult {
  const { B, K, h, w } = x;
  const n = h * w;
  const gate = new Float32Array(B * n);
  const filtered = new Float32Array(B * K * n);
  const gradProb = new Float32Array(B * K * n);
  let loss = 0;
  for (let b = 0; b < B; b++) {
    const prob = x.prob.subarray(b * K * n, (b + 1) * K * n);
    const roi = x.roi.subarray(b * n, (b + 1) * n);
    // Gate = ROI − max_k S_k, with unlabelled pixels set to 1, then clamped at 0 (from S before the ROI).
    for (let p = 0; p < n; p++) {
      let m = prob[p];
      for (let k = 1; k < K; k++) m = Math.max(m, prob[k * n + p]);
      const g = x.unlabeled[b * n + p] ? 1 : Math.fround(roi[p] - m);
      gate[b * n + p] = g < 0 ? 0 : g;
    }
    const masked = new Float32Array(K * n);
    for (let k = 0; k < K; k++) for (let p = 0; p < n; p++) masked[k * n + p] = prob[k * n + p] * roi[p];
    const feats = bilateralFeatures(x.image.subarray(b * 3 * n, (b + 1) * 3 * n), h, w, o.sigmaRgb, o.sigmaXy);
    const as = bilateralFilter(o.filter, feats, masked, n, K, o.ssePadding ?? true);
    filtered.set(as, b * K * n);
    for (let k = 0; k < K; k++) {
      for (let p = 0; p < n; p++) {
        const asg = Math.fround(as[k * n + p] * gate[b * n + p]);
        loss -= masked[k * n + p] * asg;
        gradProb[(b * K + k) * n + p] = (-2 * asg * roi[p]) / B;
      }
    }
  }
  return { loss: loss / B, gate, filtered, gradProb };
}
