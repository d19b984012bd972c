import { needsGrad, record } from '../autograd/graph.ts';
import { shapeError, TensorError } from '../errors.ts';
import { runMap } from '../kernels/map.ts';
import { assertTensor, Tensor } from '../tensor.ts';
import { mul } from './elementwise.ts';
import { sumToShape } from './sum-to-shape.ts';
import { bindsWhole, bytesOf, sliced } from './slice-axes.ts';

const SQRT1_2 = '0.7071067811865476';
/** Exact (erf) GELU of u = x0 + x1 and its derivative Φ(u) + u·φ(u); erf_approx is the map prelude's erfc-based erf. */
const GELU = `0.5 * (x0 + x1) * (1.0 + erf_approx((x0 + x1) * ${SQRT1_2}))`;
const GELU_GRAD = (u: string) => `(0.5 * (1.0 + erf_approx(${u} * ${SQRT1_2})) + ${u} * 0.3989422804014327 * exp(-0.5 * ${u} * ${u}))`;

function check(x: Tensor, bias: Tensor): void {
  assertTensor('bias_gelu', x, 'x');
  assertTensor('bias_gelu', bias, 'bias');
  if (x.dtype !== 'f32' || bias.dtype !== 'f32') throw new TensorError('bias_gelu', `needs f32 tensors, got ${x.dtype} and ${bias.dtype}`);
  if (x.rank < 1 || bias.rank !== 1 || bias.shape[0] !== x.shape[x.rank - 1]) {
    throw shapeError('bias_gelu', `bias must have shape [${x.shape[x.rank - 1] ?? '?'}] (the last dim of x)`, x.shape, bias.shape);
  }
}

/**
 * gelu(x + bias) with the exact erf GELU, one kernel each way (the MLP's fc1 epilogue): the sum x + bias is
 * never stored, and the backward computes g·gelu'(x + bias) in one pass (dbias is its sum over rows).
 */
export function biasGelu(x: Tensor, bias: Tensor): Tensor {
  check(x, bias);
  const parts = slicedRows(x, bias);
  if (parts) return parts;
  const y = runMap('bias_gelu', [x, bias], x.shape, 'f32', 'f32', GELU);
  record(
    'bias_gelu',
    [x, bias],
    [y],
    ([g], [xs, bs]) => {
      // Under createGraph the gradient stays differentiable in g (like the engine's own gelu, not in x).
      const dx = needsGrad([g!, xs, bs])
        ? mul(g!, runMap('bias_gelu_grad', [xs, bs], xs.shape, 'f32', 'f32', GELU_GRAD('(x0 + x1)')))
        : runMap('bias_gelu_backward', [g!, xs, bs], xs.shape, 'f32', 'f32', `x0 * ${GELU_GRAD('(x1 + x2)')}`);
      const db = bs.requiresGrad ? sumToShape(dx, bs.shape) : null;
      if (xs.requiresGrad) return [dx, db];
      dx.dispose();
      return [null, db];
    },
    [x, bias],
  );
  return y;
}

/**
 * biasGelu in parts along x's leading dims when x is larger than a binding, so that the backward's dbias (a sum
 * over rows) runs per part and the parts' sums add. Null when nothing must slice.
 */
function slicedRows(x: Tensor, bias: Tensor): Tensor | null {
  if (bindsWhole([x, bias], bytesOf(x.shape, x.dtype))) return null;
  const lead = x.shape.slice(0, -1).map((_, d) => d);
  return sliced({
    op: 'bias_gelu',
    sizes: x.shape.slice(0, -1),
    inputs: [{ t: x, dims: lead }, { t: bias, dims: lead.map(() => -1) }],
    out: { shape: x.shape, dtype: x.dtype, dims: lead },
    part: ([px, pb]) => biasGelu(px!, pb!),
  });
}
