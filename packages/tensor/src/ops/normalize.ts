import { needsGrad, record } from '../autograd/graph.ts';
import { shapeError, TensorError } from '../errors.ts';
import { RowLayout, type RowStep, runRowKernel } from '../kernels/rowwise.ts';
import { scope } from '../memory.ts';
import { normalizeAxis } from '../shape.ts';
import { assertTensor, Tensor } from '../tensor.ts';
import { abs, div, gt, maximum, mul, sqrt, sub, where } from './elementwise.ts';
import { matmul } from './matmul.ts';
import { sum } from './reduce.ts';

/** F.normalize with p = 2: x / max(‖x‖₂, eps) along `dim`, as one row kernel each way. */
export interface NormalizeOptions {
  /** Default 1, as PyTorch. */
  dim?: number;
  /** Default 1e-12, as PyTorch. */
  eps?: number;
}

const FORWARD: RowStep[] = [
  { let: 'ss', reduce: 'sum', of: 'ld_x(k) * ld_x(k)' },
  { stmt: 'let d = max(sqrt(ss), P_eps());' },
  { each: 'st_y(k, ld_x(k) / d);' },
];

// With n = ‖x‖ > eps: gx = g/n − x (x·g)/n³. Below eps the divisor is the constant eps: gx = g/eps. A zero row
// therefore gets g/eps, as PyTorch (its norm backward is 0 at 0), never NaN.
const BACKWARD: RowStep[] = [
  { let: 'v', reduce: 'sum', of: 'vec2<f32>(ld_x(k) * ld_x(k), ld_g(k) * ld_x(k))', type: 'vec2<f32>' },
  { stmt: 'let nrm = sqrt(v.x); let d = max(nrm, P_eps()); let c = select(0.0, ((v.y / nrm) / nrm) / nrm, nrm > P_eps());' },
  { each: 'st_dx(k, ld_g(k) / d - ld_x(k) * c);' },
];

export function normalize(x: Tensor, options: NormalizeOptions = {}): Tensor {
  const op = 'normalize';
  assertTensor(op, x);
  const dimArg = options.dim ?? 1;
  const eps = options.eps ?? 1e-12;
  if (x.dtype !== 'f32') throw shapeError(op, `needs f32, got ${x.dtype}`, x.shape);
  const dim = normalizeAxis(dimArg, x.rank);
  if (dim < 0) throw shapeError(op, `dim ${dimArg} out of range for rank ${x.rank}`, x.shape);
  if (!(eps > 0)) throw new TensorError(op, `eps must be > 0, got ${eps}`);
  const y = Tensor.empty(x.shape, 'f32', op);
  const layout = new RowLayout(x.shape, dim, [
    { name: 'x', t: x, kind: 'row' },
    { name: 'y', t: y, kind: 'row', write: true },
  ], { floats: { eps } });
  runRowKernel(op, layout, FORWARD);
  record(op, [x], [y], ([g], [xs]) => [backward(g!, xs, dim, eps)], [x]);
  return y;
}

function backward(g: Tensor, x: Tensor, dim: number, eps: number): Tensor {
  // Under createGraph the rule must itself be differentiable: the same formula from ops.
  if (needsGrad([g, x])) {
    return scope(() => {
      const n = sqrt(sum(mul(x, x), dim, true));
      const c = where(gt(n, eps), div(sum(mul(g, x), dim, true), mul(n, mul(n, n))), 0);
      return sub(div(g, maximum(n, eps)), mul(x, c));
    });
  }
  const dx = Tensor.empty(x.shape, 'f32', 'normalize_backward');
  const layout = new RowLayout(x.shape, dim, [
    { name: 'g', t: g, kind: 'row' },
    { name: 'x', t: x, kind: 'row' },
    { name: 'dx', t: dx, kind: 'row', write: true },
  ], { floats: { eps } });
  runRowKernel('normalize_backward', layout, BACKWARD);
  return dx;
}

export interface CosineOptions {
  /**
   * The feature axis of a and b: -1 for rows of features (M, D), -2 for columns (D, M) as SeCo's (B, C, N)
   * patch features. Leading dimensions are batch dimensions.
   */
  dim?: -1 | -2;
  eps?: number;
  /** |cos|, as SeCo's patch-token contrast. */
  abs?: boolean;
}

/**
 * Cosine similarities of every vector of a with every vector of b (b defaults to a): (..., M, K) =
 * normalize(a) · normalize(b)ᵀ, batched over leading dimensions.
 */
export function cosineSimilarityMatrix(a: Tensor, b: Tensor | null = null, options: CosineOptions = {}): Tensor {
  const op = 'cosineSimilarityMatrix';
  assertTensor(op, a, 'a');
  if (b) assertTensor(op, b, 'b');
  const dim = options.dim ?? -1;
  if (dim !== -1 && dim !== -2) throw new TensorError(op, `dim must be -1 or -2, got ${dim}`);
  const bb = b ?? a;
  if (a.rank < 2 || bb.rank < 2) throw shapeError(op, 'needs tensors of rank >= 2', a.shape, bb.shape);
  if (a.shape[a.rank + dim] !== bb.shape[bb.rank + dim]) {
    throw shapeError(op, `feature sizes differ along dim ${dim}`, a.shape, bb.shape);
  }
  const eps = options.eps ?? 1e-8;
  return scope(() => {
    const an = normalize(a, { dim, eps });
    const bn = b ? normalize(b, { dim, eps }) : an;
    // Rows of features: an · bnᵀ; columns: anᵀ · bn.
    const s = dim === -1 ? matmul(an, bn, { transposeB: true }) : matmul(an, bn, { transposeA: true });
    return options.abs ? abs(s) : s;
  });
}
