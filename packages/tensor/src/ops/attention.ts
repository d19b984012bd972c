import { needsGrad, record } from '../autograd/graph.ts';
import { shapeError, TensorError } from '../errors.ts';
import { type AttentionLaunch, attentionConfig, launchBackward, launchForward } from '../kernels/attention-run.ts';
import { scope } from '../memory.ts';
import { formatShape, shapesEqual } from '../shape.ts';
import { assertTensor, Tensor } from '../tensor.ts';
import { cast, mul, sub } from './elementwise.ts';
import { matmul } from './matmul.ts';
import { sum } from './reduce.ts';
import { bindsWhole, bytesOf, sliced } from './slice-axes.ts';
import { softmax } from './softmax.ts';

export interface AttentionOptions {
  /** Multiplies q·kᵀ before the softmax; default head_dim^-0.5. */
  scale?: number;
}

function check(q: Tensor, k: Tensor, v: Tensor, scale: number | undefined): AttentionLaunch {
  const op = 'attention';
  assertTensor(op, q, 'q');
  assertTensor(op, k, 'k');
  assertTensor(op, v, 'v');
  for (const [name, t] of [['q', q], ['k', k], ['v', v]] as const) {
    if (t.dtype !== 'f32' && t.dtype !== 'f16') throw new TensorError(op, `${name} must be f32 or f16, got ${t.dtype} of shape ${formatShape(t.shape)}`);
    if (t.dtype !== q.dtype) throw new TensorError(op, `q, k and v must share one dtype: q is ${q.dtype}, ${name} is ${t.dtype}`);
    if (t.rank !== 4) throw shapeError(op, `${name} must be 4-D (batch, heads, tokens, head_dim)`, q.shape, k.shape, v.shape);
  }
  if (!shapesEqual(q.shape, k.shape) || !shapesEqual(q.shape, v.shape)) {
    throw shapeError(op, 'q, k and v must have the same shape (batch, heads, tokens, head_dim)', q.shape, k.shape, v.shape);
  }
  const [B, H, N, d] = q.shape;
  if (d === 0) throw shapeError(op, 'head_dim must be positive', q.shape);
  const s = scale ?? 1 / Math.sqrt(d);
  if (!Number.isFinite(s)) throw new TensorError(op, `scale must be finite, got ${s}`);
  return { B, H, N, d, scale: s, cfg: attentionConfig() };
}

/**
 * softmax(q·kᵀ · scale)·v over (batch, heads, tokens, head_dim), fused: the N×N scores exist only a block at a
 * time in registers (online softmax), so memory is O(N·d) per head. q, k and v may be strided views (ViT's
 * qkv reshaped and permuted) and are read in place. Saves only the output and the per-row log-sum-exp.
 * f16 inputs give an f16 output and f16 gradients (as PyTorch's SDPA); scores, softmax and accumulators are
 * f32 inside the kernels and the log-sum-exp is kept in f32.
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions = {}): Tensor {
  const p = check(q, k, v, options.scale);
  const parts = slicedAttention(p, q, k, v, options);
  if (parts) return parts;
  // The kernel writes O token-major, (B, N, H, d), returned as the (B, H, N, d) view of it: O's permute back to
  // (B, N, H·d) before the projection is then a view, not a copy.
  const store = Tensor.empty([p.B, p.N, p.H, p.d], q.dtype, 'attention');
  const out = store.view(q.shape, [p.N * p.H * p.d, p.d, p.H * p.d, 1], 0, 'attention');
  store.dispose();
  const lse = Tensor.empty([p.B, p.H, p.N], 'f32', 'attention');
  launchForward(p, q, k, v, out, lse);
  record(
    'attention',
    [q, k, v],
    [out],
    ([g], [qs, ks, vs, os, ls]) => {
      // Under createGraph the rule must itself be differentiable: compose it from ops.
      const grads = needsGrad([g!, qs, ks, vs]) ? composedBackward(g!, qs, ks, vs, p.scale) : fusedBackward(p, g!, qs, ks, vs, os, ls);
      return grads.map((t, i) => {
        if ([qs, ks, vs][i].requiresGrad) return t;
        t.dispose();
        return null;
      });
    },
    [q, k, v, out, lse],
  );
  lse.dispose();
  return out;
}

/**
 * attention in parts along batch, then heads, when a tensor it binds is larger than a binding (q, k and v may
 * be strided views of one big qkv tensor: each part binds the window it spans). Null when nothing must slice.
 */
function slicedAttention(p: AttentionLaunch, q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions): Tensor | null {
  // Besides the output (in the inputs' dtype): the log-sum-exp per row, f32 for either dtype.
  const lse = [p.B, p.H, p.N];
  if (bindsWhole([q, k, v], bytesOf(q.shape, q.dtype), bytesOf(lse, 'f32'))) return null;
  const dims = [0, 1];
  return sliced({
    op: 'attention',
    sizes: [p.B, p.H],
    inputs: [q, k, v].map((t) => ({ t, dims })),
    out: { shape: q.shape, dtype: q.dtype, dims },
    temps: [{ shape: lse, dtype: 'f32', dims }],
    part: ([pq, pk, pv]) => attention(pq!, pk!, pv!, options),
  });
}

function fusedBackward(p: AttentionLaunch, g: Tensor, q: Tensor, k: Tensor, v: Tensor, o: Tensor, lse: Tensor): Tensor[] {
  // Block sizes follow the adapter at backward time (a config override between the passes is allowed).
  const pb = { ...p, cfg: attentionConfig() };
  // The gradients are in the inputs' dtype, D in f32 like the log-sum-exp.
  const dq = Tensor.empty(q.shape, q.dtype, 'attention_backward');
  const dk = Tensor.empty(q.shape, q.dtype, 'attention_backward');
  const dv = Tensor.empty(q.shape, q.dtype, 'attention_backward');
  const dd = Tensor.empty([p.B, p.H, p.N], 'f32', 'attention_backward');
  // The kernels read one storage type; an upstream gradient of another dtype (an f32 seed) is cast to it.
  const gs = g.dtype === q.dtype ? g : cast(g, q.dtype);
  launchBackward(pb, { q, k, v, o, g: gs, lse }, { dq, dk, dv, dd });
  if (gs !== g) gs.dispose();
  dd.dispose();
  return [dq, dk, dv];
}

/**
 * The same gradients through matmul and softmax (materialises the scores; only for higher-order grads). f16
 * operands are cast to f32 first (differentiably), so the N×N products are not rounded to halves; the
 * gradients come back in the inputs' dtype.
 */
function composedBackward(g: Tensor, q: Tensor, k: Tensor, v: Tensor, scale: number): Tensor[] {
  const dtype = q.dtype;
  return scope(() => {
    const [g32, q32, k32, v32] = [g, q, k, v].map((t) => (t.dtype === 'f32' ? t : cast(t, 'f32')));
    const P = softmax(mul(matmul(q32!, k32!, { transposeB: true }), scale), -1);
    const dv = matmul(P, g32!, { transposeA: true });
    const dP = matmul(g32!, v32!, { transposeB: true });
    const dS = mul(P, sub(dP, sum(mul(dP, P), -1, true)));
    const grads = [mul(matmul(dS, k32!), scale), mul(matmul(dS, q32!, { transposeA: true }), scale), dv];
    return dtype === 'f32' ? grads : grads.map((t) => cast(t, dtype));
  });
}
