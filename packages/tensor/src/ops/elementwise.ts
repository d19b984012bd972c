import { record } from '../autograd/graph.ts';
import { computeType, type DType, isFloat, promote } from '../dtype.ts';
import { shapeError, TensorError } from '../errors.ts';
import { type MapOperand, runMap } from '../kernels/map.ts';
import { broadcastShapes, type Shape } from '../shape.ts';
import { assertTensor, Tensor } from '../tensor.ts';
import { sumToShape } from './sum-to-shape.ts';

export type TensorLike = Tensor | number;

// ---------------------------------------------------------------- unary

interface UnaryDef {
  expr: string;
  /** Gradient of the input from the upstream gradient g, the input x and the output y. */
  grad?: (g: Tensor, x: Tensor, y: Tensor) => Tensor;
  /** Which of x / y the rule needs saved. */
  saves?: 'x' | 'y';
  /** Integer inputs keep their dtype (abs, neg) instead of becoming f32. */
  keepsInt?: boolean;
}

const SQRT1_2 = Math.SQRT1_2;

const UNARY: Record<string, UnaryDef> = {
  exp: { expr: 'exp(x0)', grad: (g, _x, y) => mul(g, y), saves: 'y' },
  log: { expr: 'log(x0)', grad: (g, x) => div(g, x), saves: 'x' },
  sqrt: { expr: 'sqrt(x0)', grad: (g, _x, y) => div(mul(g, 0.5), y), saves: 'y' },
  rsqrt: { expr: 'inverseSqrt(x0)', grad: (g, _x, y) => mul(g, mul(pow(y, 3), -0.5)), saves: 'y' },
  abs: { expr: 'abs(x0)', grad: (g, x) => mul(g, sign(x)), saves: 'x', keepsInt: true },
  neg: { expr: '-x0', grad: (g) => neg(g), keepsInt: true },
  relu: { expr: 'max(x0, 0.0)', grad: (g, x) => mul(g, gt(x, 0)), saves: 'x' },
  sigmoid: { expr: 'sigmoid_f(x0)', grad: (g, _x, y) => mul(g, mul(y, sub(1, y))), saves: 'y' },
  tanh: { expr: 'safe_tanh(x0)', grad: (g, _x, y) => mul(g, sub(1, mul(y, y))), saves: 'y' },
  gelu: { expr: `0.5 * x0 * (1.0 + erf_approx(x0 * ${SQRT1_2}))`, grad: (g, x) => mul(g, geluDerivative(x)), saves: 'x' },
  sin: { expr: 'sin(x0)', grad: (g, x) => mul(g, cos(x)), saves: 'x' },
  cos: { expr: 'cos(x0)', grad: (g, x) => neg(mul(g, sin(x))), saves: 'x' },
  reciprocal: { expr: '1.0 / x0', grad: (g, _x, y) => neg(mul(g, mul(y, y))), saves: 'y' },
  square: { expr: 'x0 * x0', grad: (g, x) => mul(g, mul(x, 2)), saves: 'x' },
  sign: { expr: 'sign(x0)' },
  floor: { expr: 'floor(x0)' },
  ceil: { expr: 'ceil(x0)' },
  round: { expr: 'round(x0)' },
  isfinite: { expr: 'select(0.0, 1.0, abs(x0) <= 3.4028234e38)' },
};

export type UnaryName = keyof typeof UNARY;

export function unary(name: UnaryName, x: Tensor): Tensor {
  assertTensor(name, x);
  const def = UNARY[name];
  const intKeep = def.keepsInt && !isFloat(x.dtype);
  // f16 in, f16 out (computed in f32); integers become f32 unless the op keeps them.
  const ct: DType = intKeep || x.dtype === 'f16' ? x.dtype : 'f32';
  const expr = intKeep && name === 'abs' ? 'abs(x0)' : def.expr;
  const y = runMap(name, [x], x.shape, ct, ct, expr);
  if (def.grad) {
    const grad = def.grad;
    const saves = def.saves === 'x' ? [x] : def.saves === 'y' ? [y] : [];
    record(name, [x], [y], ([g], saved) => [grad(g!, def.saves === 'x' ? saved[0] : x, def.saves === 'y' ? saved[0] : y)], saves);
  }
  return y;
}

const geluDerivative = (x: Tensor): Tensor =>
  runMap('gelu_grad', [x], x.shape, x.dtype === 'f16' ? 'f16' : 'f32', 'f32', `0.5 * (1.0 + erf_approx(x0 * ${SQRT1_2})) + x0 * 0.3989422804014327 * exp(-0.5 * x0 * x0)`);

export const exp = (x: Tensor) => unary('exp', x);
export const log = (x: Tensor) => unary('log', x);
export const sqrt = (x: Tensor) => unary('sqrt', x);
export const rsqrt = (x: Tensor) => unary('rsqrt', x);
export const abs = (x: Tensor) => unary('abs', x);
export const neg = (x: Tensor) => unary('neg', x);
export const relu = (x: Tensor) => unary('relu', x);
export const sigmoid = (x: Tensor) => unary('sigmoid', x);
export const tanh = (x: Tensor) => unary('tanh', x);
/** GELU with the exact erf, as torch.nn.GELU() and timm's ViT. */
export const gelu = (x: Tensor) => unary('gelu', x);
export const sin = (x: Tensor) => unary('sin', x);
export const cos = (x: Tensor) => unary('cos', x);
export const reciprocal = (x: Tensor) => unary('reciprocal', x);
export const square = (x: Tensor) => unary('square', x);
export const sign = (x: Tensor) => unary('sign', x);
export const floor = (x: Tensor) => unary('floor', x);
export const ceil = (x: Tensor) => unary('ceil', x);
export const round = (x: Tensor) => unary('round', x);
/** 1 where x is finite, 0 at NaN and ±Inf. */
export const isFinite = (x: Tensor) => unary('isfinite', x);

// ---------------------------------------------------------------- binary

/** Gradient of operand `which` (0 = a, 1 = b); a and b arrive as numbers where the caller passed scalars. */
type BinaryGrad = (which: 0 | 1, g: Tensor, a: TensorLike, b: TensorLike, y: Tensor) => Tensor;

interface BinaryDef {
  expr: string;
  grad?: BinaryGrad;
  saves?: ('a' | 'b' | 'y')[];
  /** Result dtype when not the promoted input dtype. */
  outDtype?: DType;
  /** Always computes in f32 (division of integers is true division). */
  floatOnly?: boolean;
}

/** g where `self` wins the comparison, half of g on ties (PyTorch's rule for maximum/minimum). */
function selectGrad(op: string, cmp: '>' | '<', g: Tensor, self: TensorLike, other: TensorLike): Tensor {
  const sel = `select(select(0.0, 0.5 * x0, x1 == x2), x0, x1 ${cmp} x2)`;
  return runMap(op, [g, operand(self, 'f32'), operand(other, 'f32')], g.shape, g.dtype, 'f32', sel);
}

const BINARY: Record<string, BinaryDef> = {
  add: { expr: 'x0 + x1', grad: (_w, g) => g },
  sub: { expr: 'x0 - x1', grad: (w, g) => (w === 0 ? g : neg(g)) },
  mul: { expr: 'x0 * x1', grad: (w, g, a, b) => mul(g, w === 0 ? b : a), saves: ['a', 'b'] },
  div: {
    expr: 'x0 / x1',
    floatOnly: true,
    grad: (w, g, a, b) => (w === 0 ? div(g, b) : neg(div(mul(g, a), mul(b, b)))),
    saves: ['a', 'b'],
  },
  pow: {
    expr: 'pow_f(x0, x1)',
    floatOnly: true,
    grad: (w, g, a, b, y) => {
      if (w === 1) return mul(g, mul(y, log(a as Tensor)));
      const bm1 = typeof b === 'number' ? b - 1 : sub(b, 1);
      return mul(g, mul(pow(a, bm1), b));
    },
    saves: ['a', 'b', 'y'],
  },
  maximum: { expr: 'max(x0, x1)', grad: (w, g, a, b) => selectGrad('maximum_grad', '>', g, w === 0 ? a : b, w === 0 ? b : a), saves: ['a', 'b'] },
  minimum: { expr: 'min(x0, x1)', grad: (w, g, a, b) => selectGrad('minimum_grad', '<', g, w === 0 ? a : b, w === 0 ? b : a), saves: ['a', 'b'] },
  eq: { expr: 'select(0u, 1u, x0 == x1)', outDtype: 'u32' },
  ne: { expr: 'select(0u, 1u, x0 != x1)', outDtype: 'u32' },
  lt: { expr: 'select(0u, 1u, x0 < x1)', outDtype: 'u32' },
  le: { expr: 'select(0u, 1u, x0 <= x1)', outDtype: 'u32' },
  gt: { expr: 'select(0u, 1u, x0 > x1)', outDtype: 'u32' },
  ge: { expr: 'select(0u, 1u, x0 >= x1)', outDtype: 'u32' },
  logicalAnd: { expr: 'select(0u, 1u, x0 != 0 && x1 != 0)', outDtype: 'u32' },
  logicalOr: { expr: 'select(0u, 1u, x0 != 0 || x1 != 0)', outDtype: 'u32' },
};

export type BinaryName = keyof typeof BINARY;

function operandDtype(x: TensorLike, other: TensorLike): DType {
  if (x instanceof Tensor) return x.dtype;
  // A number takes the tensor's dtype unless it has a fraction and the tensor is an integer (then f32),
  // as PyTorch's scalar promotion: f16 * 0.5 stays f16.
  const t = other instanceof Tensor ? other.dtype : 'f32';
  return Number.isInteger(x) || isFloat(t) ? t : 'f32';
}

function operand(x: TensorLike, dtype: DType): MapOperand {
  return x instanceof Tensor ? x : { scalar: x, dtype };
}

export function binary(name: BinaryName, a: TensorLike, b: TensorLike): Tensor {
  const def = BINARY[name];
  if (!(a instanceof Tensor) && !(b instanceof Tensor)) throw new TensorError(name, 'needs at least one Tensor operand');
  if (a instanceof Tensor) assertTensor(name, a, 'a');
  if (b instanceof Tensor) assertTensor(name, b, 'b');
  const sa: Shape = a instanceof Tensor ? a.shape : [];
  const sb: Shape = b instanceof Tensor ? b.shape : [];
  const shape = broadcastShapes(sa, sb);
  if (!shape) throw shapeError(name, 'operands do not broadcast', sa, sb);
  let ct = promote(operandDtype(a, b), operandDtype(b, a));
  if (def.floatOnly && ct !== 'f16') ct = 'f32';
  // Integer logic uses the operand's own comparison; WGSL needs a typed zero for != 0.
  const cc = computeType(ct);
  const expr = cc === 'f32' ? def.expr.replaceAll('!= 0', '!= 0.0') : cc === 'u32' ? def.expr.replaceAll('!= 0', '!= 0u') : def.expr;
  const outDtype = def.outDtype ?? ct;
  const y = runMap(name, [operand(a, ct), operand(b, ct)], shape, outDtype, ct, expr);
  if (def.grad && isFloat(outDtype)) {
    const grad = def.grad;
    const ta = a instanceof Tensor ? a : null;
    const tb = b instanceof Tensor ? b : null;
    const inputs = [ta, tb].filter((t): t is Tensor => t !== null);
    const saves = def.saves ?? [];
    const toSave: Tensor[] = [];
    const slot = (k: 'a' | 'b' | 'y', t: Tensor | null): number => {
      if (!saves.includes(k) || !t) return -1;
      toSave.push(t);
      return toSave.length - 1;
    };
    const ia = slot('a', ta);
    const ib = slot('b', tb);
    const iy = slot('y', y);
    record(
      name,
      inputs,
      [y],
      ([g], saved) => {
        const av: TensorLike = ia >= 0 ? saved[ia] : (a as TensorLike);
        const bv: TensorLike = ib >= 0 ? saved[ib] : (b as TensorLike);
        const yv = iy >= 0 ? saved[iy] : y;
        const out: Tensor[] = [];
        if (ta) out.push(sumToShape(grad(0, g!, av, bv, yv), ta.shape));
        if (tb) out.push(sumToShape(grad(1, g!, av, bv, yv), tb.shape));
        return out;
      },
      toSave,
    );
  }
  return y;
}

export const add = (a: TensorLike, b: TensorLike) => binary('add', a, b);
export const sub = (a: TensorLike, b: TensorLike) => binary('sub', a, b);
export const mul = (a: TensorLike, b: TensorLike) => binary('mul', a, b);
export const div = (a: TensorLike, b: TensorLike) => binary('div', a, b);
export const pow = (a: TensorLike, b: TensorLike) => binary('pow', a, b);
export const maximum = (a: TensorLike, b: TensorLike) => binary('maximum', a, b);
export const minimum = (a: TensorLike, b: TensorLike) => binary('minimum', a, b);
export const eq = (a: TensorLike, b: TensorLike) => binary('eq', a, b);
export const ne = (a: TensorLike, b: TensorLike) => binary('ne', a, b);
export const lt = (a: TensorLike, b: TensorLike) => binary('lt', a, b);
export const le = (a: TensorLike, b: TensorLike) => binary('le', a, b);
export const gt = (a: TensorLike, b: TensorLike) => binary('gt', a, b);
export const ge = (a: TensorLike, b: TensorLike) => binary('ge', a, b);
export const logicalAnd = (a: TensorLike, b: TensorLike) => binary('logicalAnd', a, b);
export const logicalOr = (a: TensorLike, b: TensorLike) => binary('logicalOr', a, b);

// ---------------------------------------------------------------- ternary and friends

/** cond ? a : b elementwise, with broadcasting; cond is any dtype (nonzero is true). */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  assertTensor('where', cond, 'cond');
  const sa: Shape = a instanceof Tensor ? a.shape : [];
  const sb: Shape = b instanceof Tensor ? b.shape : [];
  const s1 = broadcastShapes(cond.shape, sa);
  const shape = s1 && broadcastShapes(s1, sb);
  if (!shape) throw shapeError('where', 'cond, a and b do not broadcast', cond.shape, sa, sb);
  const ct = promote(operandDtype(a, b), operandDtype(b, a));
  // runMap converts every operand to the compute type, the condition too.
  const cc = computeType(ct);
  const zero = cc === 'f32' ? '0.0' : cc === 'i32' ? '0i' : '0u';
  const y = runMap('where', [cond, operand(a, ct), operand(b, ct)], shape, ct, ct, `select(x2, x1, x0 != ${zero})`);
  const ta = a instanceof Tensor ? a : null;
  const tb = b instanceof Tensor ? b : null;
  const inputs = [ta, tb].filter((t): t is Tensor => t !== null);
  if (isFloat(ct)) {
    record(
      'where',
      inputs,
      [y],
      ([g], [c]) => {
        const out: (Tensor | null)[] = [];
        if (ta) out.push(sumToShape(where(c, g!, 0), ta.shape));
        if (tb) out.push(sumToShape(where(c, 0, g!), tb.shape));
        return out;
      },
      [cond],
    );
  }
  return y;
}

export function clamp(x: Tensor, min: number | null, max: number | null): Tensor {
  assertTensor('clamp', x);
  let y = x;
  if (min !== null) y = maximum(y, min);
  if (max !== null) {
    const prev = y;
    y = minimum(y, max);
    if (prev !== x) prev.dispose();
  }
  return y === x ? copy(x) : y;
}

/**
 * An elementwise copy into fresh contiguous storage, optionally converting dtype. Differentiable between
 * float dtypes (f32 <-> f16: the gradient is cast back to the input's dtype).
 */
export function copy(x: Tensor, dtype: DType = x.dtype): Tensor {
  assertTensor('copy', x);
  const y = runMap(dtype === x.dtype ? 'copy' : 'cast', [x], x.shape, dtype, dtype, 'x0');
  if (isFloat(dtype) && isFloat(x.dtype)) {
    const from = x.dtype;
    record(dtype === from ? 'copy' : 'cast', [x], [y], ([g]) => [g!.dtype === from ? g : copy(g!, from)]);
  }
  return y;
}

export const cast = (x: Tensor, dtype: DType) => copy(x, dtype);
