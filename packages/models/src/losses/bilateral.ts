import { PermutohedralLattice } from '../crf/lattice.ts';

/**
 * rloss' bilateral filter on the host: AS_k = Σ_j exp(−½‖f_i − f_j‖²) S_k,j (j = i included) with features
 * f = (x/σ_xy, y/σ_xy, R/σ_rgb, G/σ_rgb, B/σ_rgb), x the column and y the row, as rloss'
 * initializePermutohedral builds them in float32.
 */
export type BilateralFilterKind = 'lattice' | 'exact';

/** 128² pixels: about 2.7·10⁸ pairs, seconds on the host. SeCo's 224² would be 2.5·10⁹ per class. */
export const EXACT_MAX_PIXELS = 128 * 128;

/** (h·w, 5) features of one image, given planar (3, h, w) values on the 0..255 scale. */
export function bilateralFeatures(image: Float32Array, h: number, w: number, sigmaRgb: number, sigmaXy: number): Float32Array {
  const n = h * w;
  if (image.length !== 3 * n) throw new Error(`bilateralFeatures: image holds ${image.length} values, expected 3x${h}x${w}`);
  const f = new Float32Array(n * 5);
  const sxy = Math.fround(sigmaXy);
  const srgb = Math.fround(sigmaRgb);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const p = y * w + x;
      f[p * 5] = x / sxy;
      f[p * 5 + 1] = y / sxy;
      for (let c = 0; c < 3; c++) f[p * 5 + 2 + c] = image[c * n + p] / srgb;
    }
  }
  return f;
}

/** How many all-zero points rloss' SSE build appends to n pixels: its lattice init walks the points 4 at a time. */
export function ssePadding(n: number): number {
  return (4 - (n % 4)) % 4;
}

/**
 * Filters K planar maps (K, n) with the features (n, 5). 'lattice' is the permutohedral lattice rloss uses
 * (Krähenbühl's, ~0.5× the exact Gaussian sum on SeCo's settings); 'exact' is the O(n²) sum in float64, only
 * for small images (tests against the fixtures' exact_dense_reference).
 *
 * `ssePad` (lattice only, default true): rloss built with SSE (every x86 build, so SeCo's) reads the features
 * in blocks of 4 and fills the last block with zero feature vectors, whose lattice vertices join the blur
 * although they carry no value; when n % 4 ≠ 0 this shifts the filtered values near the feature origin (dark
 * pixels near the top-left corner). false is the plain lattice, as rloss built without SSE. The exact sum is
 * unaffected by zero-valued points, so it has no such switch.
 */
export function bilateralFilter(kind: BilateralFilterKind, features: Float32Array, values: Float32Array, n: number, K: number, ssePad = true): Float32Array {
  if (features.length !== n * 5 || values.length !== n * K) {
    throw new Error(`bilateralFilter: ${features.length / 5} feature rows and ${values.length} values for ${n} pixels x ${K} maps`);
  }
  if (kind === 'exact' && n > EXACT_MAX_PIXELS) {
    throw new Error(`bilateralFilter: the exact filter is O(n²), meant for test images; ${n} pixels exceed ${EXACT_MAX_PIXELS} (use 'lattice')`);
  }
  return kind === 'lattice' ? latticeFilter(features, values, n, K, ssePad ? ssePadding(n) : 0) : exactFilter(features, values, n, K);
}

function latticeFilter(features: Float32Array, values: Float32Array, n: number, K: number, zeroPoints: number): Float32Array {
  // rloss filters each class on its own; the lattice is linear and per-channel, so all K at once is the same.
  const lattice = new PermutohedralLattice(features, n, 5, zeroPoints);
  const interleaved = new Float32Array(n * K);
  for (let k = 0; k < K; k++) for (let p = 0; p < n; p++) interleaved[p * K + k] = values[k * n + p];
  const filtered = lattice.filter(interleaved, K);
  const out = new Float32Array(n * K);
  for (let k = 0; k < K; k++) for (let p = 0; p < n; p++) out[k * n + p] = filtered[p * K + k];
  return out;
}

function exactFilter(features: Float32Array, values: Float32Array, n: number, K: number): Float32Array {
  const out = new Float32Array(n * K);
  const acc = new Float64Array(K);
  for (let i = 0; i < n; i++) {
    acc.fill(0);
    for (let j = 0; j < n; j++) {
      let d2 = 0;
      for (let a = 0; a < 5; a++) {
        const d = features[i * 5 + a] - features[j * 5 + a];
        d2 += d * d;
      }
      const wgt = Math.exp(-0.5 * d2);
      for (let k = 0; k < K; k++) acc[k] += wgt * values[k * n + j];
    }
    for (let k = 0; k < K; k++) out[k * n + i] = acc[k];
  }
  return out;
}
