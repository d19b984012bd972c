import type { DType } from '../dtype.ts';
import { engine } from '../runtime/engine.ts';
import { isContiguous, numel, type Shape } from '../shape.ts';
import { bindView, type BoundView, type ViewLike } from './binding.ts';
import { sliceIndexSpace } from './slices.ts';
import { Tensor } from '../tensor.ts';
import { memoKernel } from './memo.ts';
import { ceilDiv, ENTRY_ARGS, f32Bits, linearId, stridedOffset, UniformLayout } from './uniforms.ts';

/** A map operand: a tensor (broadcast to the output shape) or a scalar that travels in the uniform block. */
type MapScalar = { scalar: number; dtype: DType };
export type MapOperand = Tensor | MapScalar;

const WG = 256;

/** WGSL helpers every map kernel may call. */
const PRELUDE = /* wgsl */ `
fn erf_approx(x: f32) -> f32 {
  // Numerical Recipes' erfc (fractional error below 1.2e-7): WGSL has no erf, and A&S 7.1.26 is too coarse.
  let z = abs(x);
  let t = 1.0 / (1.0 + 0.5 * z);
  let r = t * exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
      t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
      t * (-0.82215223 + t * 0.17087277)))))))));
  return select(r - 1.0, 1.0 - r, x >= 0.0);
}
fn safe_tanh(x: f32) -> f32 { return tanh(clamp(x, -15.0, 15.0)); }
fn sigmoid_f(x: f32) -> f32 {
  // Never exp of a large positive number.
  let e = exp(-abs(x));
  return select(e / (1.0 + e), 1.0 / (1.0 + e), x >= 0.0);
}
fn pow_f(x: f32, y: f32) -> f32 {
  if (y == 0.0) { return 1.0; }
  if (x >= 0.0) { return pow(x, y); }
  if (floor(y) != y) { let nan_bits = 0x7fc00000u; return bitcast<f32>(nan_bits); }
  let r = pow(-x, y);
  let odd = abs(y - 2.0 * floor(y * 0.5)) == 1.0;
  return select(r, -r, odd);
}
`;

/**
 * Runs an elementwise kernel: out[i] = expr(x0, x1, ...), where xk is operand k broadcast to `outShape` and
 * converted to `computeType`. Strided views are read in place: no contiguous copies.
 */
export function runMap(
  op: string,
  operands: readonly MapOperand[],
  outShape: Shape,
  outDtype: DType,
  computeAs: DType,
  expr: string,
): Tensor {
  const out = Tensor.empty(outShape, outDtype, op);
  if (numel(outShape) === 0) return out;
  // Tensors as views of the output's index space (broadcasts as stride 0), sliced to fit the binding limit.
  const tensors = operands.filter((o): o is Tensor => o instanceof Tensor);
  const views: ViewLike[] = tensors.map((t) => ({ ...viewFields(t), shape: outShape, strides: broadcastStrides(t.shape, t.strides, outShape) }));
  for (const slice of sliceIndexSpace(op, outShape, [...views, out])) {
    let k = 0;
    const sliced = operands.map((o) => (o instanceof Tensor ? slice[k++] : o));
    dispatchMap(op, sliced, slice[k], computeAs, expr);
  }
  return out;
}

function viewFields(t: Tensor): ViewLike {
  return { buffer: t.buffer, dtype: t.dtype, shape: t.shape, strides: t.strides, offset: t.offset };
}

/** One dispatch: out (a contiguous view) = expr over operands, each a view of out's shape. */
function dispatchMap(op: string, operands: readonly (ViewLike | MapScalar)[], out: ViewLike, computeAs: DType, expr: string): void {
  // Halves are storage only: every expression computes in f32 and rounds once at the store.
  const computeType = computeAs === 'f16' ? 'f32' : computeAs;
  const outShape = out.shape;
  const outDtype = out.dtype;
  const n = numel(outShape);
  const rank = outShape.length;
  const boundOut = bindView(out, op);
  const bound: BoundView[] = [];
  const values: Record<string, number | number[]> = { numel: n, outOff: boundOut.offset, outShape: [...outShape] };
  const reads: OperandRead[] = [];
  // The key names what the WGSL depends on: per operand its kind, dtype and whether it is read directly
  // (contiguous) or through strides; the expression last, so no expression can fake another key.
  let key = `map|${outDtype}|${computeType}|${rank}`;
  operands.forEach((o, k) => {
    if ('buffer' in o) {
      const bv = bindView(o, op);
      bound.push(bv);
      values[`off${k}`] = bv.offset;
      const direct = isContiguous(o.shape, o.strides);
      if (!direct) values[`str${k}`] = [...o.strides];
      reads.push({ dtype: o.dtype, direct });
      key += direct ? `|d${o.dtype}` : `|s${o.dtype}`;
    } else {
      // A half scalar travels as f32 bits (a uniform word cannot be bitcast to a 2-byte type).
      const st = o.dtype === 'f16' ? 'f32' : o.dtype;
      values[`s${k}`] = st === 'f32' ? f32Bits(o.scalar) : o.scalar;
      reads.push({ scalar: st });
      key += `|c${st}`;
    }
  });
  key += `|=${expr}`;
  const kernel = memoKernel(key, () => mapKernel(reads, rank, outDtype, computeType, expr));
  engine().dispatch({
    label: op,
    key,
    code: kernel.code,
    buffers: [...bound.map((b) => b.resource), boundOut.resource],
    uniforms: kernel.layout.pack(values),
    workgroups: ceilDiv(n, WG),
  });
}

/** How a map kernel reads operand k: a tensor directly or through strides, or a scalar from the uniforms. */
type OperandRead = { dtype: DType; direct: boolean } | { scalar: DType };

function mapKernel(reads: readonly OperandRead[], rank: number, outDtype: DType, computeType: string, expr: string): { code: string; layout: UniformLayout } {
  const u = new UniformLayout().field('numel').field('outOff').field('outShape', Math.max(rank, 1));
  const decls: string[] = [];
  const loads: string[] = [];
  reads.forEach((r, k) => {
    if ('dtype' in r) {
      decls.push(`@group(0) @binding(${decls.length}) var<storage, read> in${k}: array<${r.dtype}>;`);
      u.field(`off${k}`);
      if (r.direct) {
        loads.push(`let x${k} = ${computeType}(in${k}[${u.at(`off${k}`)} + gidx]);`);
      } else {
        u.field(`str${k}`, Math.max(rank, 1));
        loads.push(stridedOffset(u, `o${k}`, 'gidx', rank, 'outShape', `str${k}`, `off${k}`));
        loads.push(`let x${k} = ${computeType}(in${k}[o${k}]);`);
      }
    } else {
      u.field(`s${k}`);
      loads.push(`let x${k} = ${computeType}(bitcast<${r.scalar}>(${u.at(`s${k}`)}));`);
    }
  });
  const code = `${PRELUDE}
${decls.join('\n')}
@group(0) @binding(${decls.length}) var<storage, read_write> out: array<${outDtype}>;
${u.declare(decls.length + 1)}
@compute @workgroup_size(${WG})
fn main(${ENTRY_ARGS}) {
  ${linearId(WG)}
  if (gidx >= ${u.at('numel')}) { return; }
  ${loads.join('\n  ')}
  out[${u.at('outOff')} + gidx] = ${outDtype}(${expr});
}`;
  return { code, layout: u };
}

/** Strides that read a tensor broadcast to `outShape` (0 along broadcast dimensions). */
export function broadcastStrides(shape: Shape, strides: Shape, outShape: Shape): number[] {
  const r = outShape.length;
  const lead = r - shape.length;
  return outShape.map((_, d) => {
    const i = d - lead;
    if (i < 0 || shape[i] === 1) return 0;
    return strides[i];
  });
}
