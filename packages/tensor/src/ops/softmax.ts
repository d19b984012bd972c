import { needsGrad, record } from '../autograd/graph.ts';
import { shapeError } from '../errors.ts';
import { RowLayout, type RowStep, runRowKernel } from '../kernels/rowwise.ts';
import { scope } from '../memory.ts';
import { normalizeAxis } from '../shape.ts';
import { assertTensor, Tensor } from '../tensor.ts';
import { exp, mul, sub } from './elementwise.ts';
import { sum } from './reduce.ts';
import { reshape } from './view.ts';

type Kind = 'softmax' | 'log_softmax';

// Max-subtraction keeps exp() in range; multiplying by 1/Σ (not dividing) follows PyTorch's CPU kernel.
const FORWARD: Record<Kind, RowStep[]> = {
  softmax: [
    { let: 'm', reduce: 'max', of: 'ld_x(k)' },
    { let: 's', reduce: 'sum', of: 'exp(ld_x(k) - m)' },
    { stmt: 'let inv = 1.0 / s;' },
    { each: 'st_y(k, exp(ld_x(k) - m) * inv);' },
  ],
  log_softmax: [
    { let: 'm', reduce: 'max', of: 'ld_x(k)' },
    { let: 's', reduce: 'sum', of: 'exp(ld_x(k) - m)' },
    { stmt: 'let ls = log(s);' },
    { each: 'st_y(k, (ld_x(k) - m) - ls);' },
  ],
};

const BACKWARD: Record<Kind, RowStep[]> = {
  softmax: [
    { let: 'd', reduce: 'sum', of: 'ld_g(k) * ld_y(k)' },
    { each: 'st_dx(k, ld_y(k) * (ld_g(k) - d));' },
  ],
  log_softmax: [
    { let: 'sg', reduce: 'sum', of: 'ld_g(k)' },
    { each: 'st_dx(k, ld_g(k) - exp(ld_y(k)) * sg);' },
  ],
};

function checkInput(op: Kind, x: Tensor, dim: number): number {
  assertTensor(op, x);
  if (x.dtype !== 'f32' && x.dtype !== 'f16') throw shapeError(op, `needs an f32 or f16 tensor, got ${x.dtype}`, x.shape);
  const d = normalizeAxis(dim, Math.max(x.rank, 1));
  if (d < 0) throw shapeError(op, `dim ${dim} out of range for rank ${x.rank}`, x.shape);
  return d;
}

function rowOp(op: Kind, x: Tensor, dim: number): Tensor {
  const d = checkInput(op, x, dim);
  if (x.rank === 0) {
    const flat = reshape(x, [1]);
    const y1 = rowOp(op, flat, 0);
    const y = reshape(y1, []);
    flat.dispose();
    y1.dispose();
    return y;
  }
  // f16: halves in and out, max/sum/exp in f32.
  const y = Tensor.empty(x.shape, x.dtype, op);
  const layout = new RowLayout(x.shape, d, [
    { name: 'x', t: x, kind: 'row' },
    { name: 'y', t: y, kind: 'row', write: true },
  ]);
  runRowKernel(op, layout, FORWARD[op]);
  record(op, [x], [y], ([g], [ys]) => [backward(op, g!, ys, d)], [y]);
  return y;
}

function backward(op: Kind, g: Tensor, y: Tensor, d: number): Tensor {
  // Under createGraph the rule must itself be differentiable: compose it from ops.
  if (needsGrad([g, y])) {
    return scope(() =>
      op === 'softmax' ? mul(y, sub(g, sum(mul(g, y), d, true))) : sub(g, mul(exp(y), sum(g, d, true))),
    );
  }
  const dx = Tensor.empty(y.shape, y.dtype, `${op}_backward`);
  const layout = new RowLayout(y.shape, d, [
    { name: 'g', t: g, kind: 'row' },
    { name: 'y', t: y, kind: 'row' },
    { name: 'dx', t: dx, kind: 'row', write: true },
  ]);
  runRowKernel(`${op}_backward`, layout, BACKWARD[op]);
  return dx;
}

/** softmax along `dim` (default the last), numerically stable; strided inputs are read in place. */
export const softmax = (x: Tensor, dim = -1): Tensor => rowOp('softmax', x, dim);
/** log(softmax(x)) along `dim`, computed as x − max − log Σ exp(x − max). */
export const logSoftmax = (x: Tensor, dim = -1): Tensor => rowOp('log_softmax', x, dim);

declare module '../tensor.ts' {
  interface Tensor {
    softmax(dim?: number): Tensor;
    logSoftmax(dim?: number): Tensor;
  }
}

Tensor.prototype.softmax = function (this: Tensor, dim?: number) {
  return softmax(this, dim);
};
Tensor.prototype.logSoftmax = function (this: Tensor, dim?: number) {
  return logSoftmax(this, dim);
};
