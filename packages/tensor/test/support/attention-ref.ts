// An f64 CPU reference of attention with its analytic gradients, for checking low-precision kernels where
// finite differences through the kernel itself would drown in rounding.
import type { ND } from '../../../../test/support/gradcheck.ts';

export interface AttentionRef {
  y: Float64Array;
  /** Gradients of Σ y·g with respect to q, k and v. */
  dq: Float64Array;
  dk: Float64Array;
  dv: Float64Array;
}

/**
 * softmax(q·kᵀ·scale)·v over dense (B, H, N, d) arrays, and the gradients of Σ y·g: with P the softmax,
 * dv = Pᵀg, dS = P ∘ (g·vᵀ − rowsum(g ∘ y)), dq = dS·k·scale, dk = dSᵀ·q·scale.
 */
export function attentionRef(q: ND, k: ND, v: ND, g: ArrayLike<number>, scale: number): AttentionRef {
  const [B, H, N, d] = q.shape;
  const size = q.data.length;
  const out: AttentionRef = { y: new Float64Array(size), dq: new Float64Array(size), dk: new Float64Array(size), dv: new Float64Array(size) };
  const p = new Float64Array(N);
  const dot = (a: Float64Array | ArrayLike<number>, ia: number, b: Float64Array | ArrayLike<number>, ib: number) => {
    let acc = 0;
    for (let c = 0; c < d; c++) acc += a[ia + c] * b[ib + c];
    return acc;
  };
  for (let z = 0; z < B * H; z++) {
    const base = z * N * d;
    for (let i = 0; i < N; i++) {
      const qi = base + i * d;
      let m = -Infinity;
      for (let j = 0; j < N; j++) m = Math.max(m, (p[j] = dot(q.data, qi, k.data, base + j * d) * scale));
      let l = 0;
      for (let j = 0; j < N; j++) l += p[j] = Math.exp(p[j] - m);
      for (let j = 0; j < N; j++) p[j] /= l;
      for (let j = 0; j < N; j++) for (let c = 0; c < d; c++) out.y[qi + c] += p[j] * v.data[base + j * d + c];
      const D = dot(g, qi, out.y, qi);
      for (let j = 0; j < N; j++) {
        const kj = base + j * d;
        const ds = p[j] * (dot(g, qi, v.data, kj) - D) * scale;
        for (let c = 0; c < d; c++) {
          out.dv[kj + c] += p[j] * g[qi + c];
          out.dq[qi + c] += ds * k.data[kj + c];
          out.dk[kj + c] += ds * q.data[qi + c];
        }
      }
    }
  }
  return out;
}
