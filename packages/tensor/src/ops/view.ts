import { noGrad, record } from '../autograd/graph.ts';
import { shapeError, TensorError } from '../errors.ts';
import type { ViewLike } from '../kernels/binding.ts';
import { sliceIndexSpace } from '../kernels/slices.ts';
import { copyKernel } from '../kernels/strided-copy.ts';
import { contiguousStrides, formatShape, normalizeAxis, numel, type Shape, shapesEqual, validateShape } from '../shape.ts';
import { assertTensor, hooks, Tensor } from '../tensor.ts';
import { copy } from './elementwise.ts';
import { zeros } from './creation.ts';
import { sumToShape } from './sum-to-shape.ts';

/** Views: stride arithmetic on the same storage, never a copy (reshape copies only non-contiguous input). */

export function contiguous(x: Tensor): Tensor {
  assertTensor('contiguous', x);
  if (x.isContiguous) return alias(x, 'contiguous');
  return copy(x);
}
hooks.contiguous = contiguous;

/** A new handle on the same view, sharing autograd history. */
function alias(x: Tensor, op: string): Tensor {
  const y = x.view(x.shape, x.strides, x.offset, op);
  record(op, [x], [y], ([g]) => [g]);
  return y;
}

function resolveShape(op: string, x: Tensor, shape: readonly number[]): number[] {
  const out = [...shape];
  const infer = out.indexOf(-1);
  if (infer !== out.lastIndexOf(-1)) throw shapeError(op, 'at most one dimension can be -1', x.shape, shape);
  if (infer >= 0) {
    const known = numel(out.filter((_, i) => i !== infer));
    if (known === 0 || x.size % known !== 0) throw shapeError(op, 'cannot infer the -1 dimension', x.shape, shape);
    out[infer] = x.size / known;
  }
  if (!validateShape(out) || numel(out) !== x.size) {
    throw shapeError(op, `cannot view ${x.size} elements as ${formatShape(shape)}`, x.shape, shape);
  }
  return out;
}

export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  assertTensor('reshape', x);
  const s = resolveShape('reshape', x, shape);
  const inShape = x.shape;
  let y: Tensor;
  if (x.isContiguous) {
    y = x.view(s, contiguousStrides(s), x.offset, 'reshape');
  } else {
    const c = noGrad(() => copy(x));
    y = c.view(s, contiguousStrides(s), 0, 'reshape');
    c.dispose();
  }
  record('reshape', [x], [y], ([g]) => [reshape(g!, inShape)]);
  return y;
}

export const flatten = (x: Tensor, startDim = 0, endDim = -1): Tensor => {
  const s = normalizeAxis(startDim, Math.max(x.rank, 1));
  const e = normalizeAxis(endDim, Math.max(x.rank, 1));
  if (s < 0 || e < 0 || e < s) throw shapeError('flatten', `bad dims ${startDim}..${endDim}`, x.shape);
  if (x.rank === 0) return reshape(x, [1]);
  return reshape(x, [...x.shape.slice(0, s), numel(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)]);
};

export function permute(x: Tensor, dims: readonly number[]): Tensor {
  assertTensor('permute', x);
  const d = dims.map((a) => normalizeAxis(a, x.rank));
  if (d.length !== x.rank || d.some((a) => a < 0) || new Set(d).size !== d.length) {
    throw shapeError('permute', `dims [${dims.join(', ')}] are not a permutation of ${x.rank} axes`, x.shape);
  }
  const y = x.view(
    d.map((a) => x.shape[a]),
    d.map((a) => x.strides[a]),
    x.offset,
    'permute',
  );
  const inverse = new Array<number>(d.length);
  d.forEach((a, i) => (inverse[a] = i));
  record('permute', [x], [y], ([g]) => [permute(g!, inverse)]);
  return y;
}

export function transpose(x: Tensor, dim0 = -2, dim1 = -1): Tensor {
  assertTensor('transpose', x);
  const a = normalizeAxis(dim0, x.rank);
  const b = normalizeAxis(dim1, x.rank);
  if (a < 0 || b < 0) throw shapeError('transpose', `axes ${dim0}, ${dim1} out of range`, x.shape);
  const dims = x.shape.map((_, i) => i);
  dims[a] = b;
  dims[b] = a;
  return permute(x, dims);
}

/** Dimensions of size 1 broadcast to `shape` (stride 0); -1 keeps a dimension; new leading dims are allowed. */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  assertTensor('expand', x);
  const lead = shape.length - x.rank;
  if (lead < 0) throw shapeError('expand', 'target has fewer dimensions than the input', x.shape, shape);
  const outShape: number[] = [];
  const strides: number[] = [];
  for (let i = 0; i < shape.length; i++) {
    const j = i - lead;
    const src = j >= 0 ? x.shape[j] : 1;
    const want = shape[i] === -1 ? src : shape[i];
    if (j >= 0 && src !== 1 && src !== want) throw shapeError('expand', `dimension ${i} is ${src}, not 1 or ${want}`, x.shape, shape);
    outShape.push(want);
    strides.push(j >= 0 && src !== 1 ? x.strides[j] : 0);
  }
  const inShape = x.shape;
  const y = x.view(outShape, strides, x.offset, 'expand');
  record('expand', [x], [y], ([g]) => [sumToShape(g!, inShape)]);
  return y;
}

export function squeeze(x: Tensor, dim?: number | number[]): Tensor {
  assertTensor('squeeze', x);
  const dims = dim === undefined ? x.shape.map((_, i) => i).filter((i) => x.shape[i] === 1) : (Array.isArray(dim) ? dim : [dim]).map((d) => normalizeAxis(d, x.rank));
  if (dims.some((d) => d < 0)) throw shapeError('squeeze', `dim ${dim} out of range`, x.shape);
  // Drop the size-1 dims from shape and strides: a view even when x is not contiguous (reshape would copy).
  const keepDim = x.shape.map((s, i) => !(dims.includes(i) && s === 1));
  const y = x.view(
    x.shape.filter((_, i) => keepDim[i]),
    x.strides.filter((_, i) => keepDim[i]),
    x.offset,
    'squeeze',
  );
  const inShape = x.shape;
  record('squeeze', [x], [y], ([g]) => [reshape(g!, inShape)]);
  return y;
}

export function unsqueeze(x: Tensor, dim: number): Tensor {
  assertTensor('unsqueeze', x);
  const d = normalizeAxis(dim, x.rank + 1);
  if (d < 0) throw shapeError('unsqueeze', `dim ${dim} out of range`, x.shape);
  const s = [...x.shape];
  s.splice(d, 0, 1);
  const st = [...x.strides];
  st.splice(d, 0, d < x.rank ? x.strides[d] * x.shape[d] : 1);
  const y = x.view(s, st, x.offset, 'unsqueeze');
  const inShape = x.shape;
  record('unsqueeze', [x], [y], ([g]) => [reshape(g!, inShape)]);
  return y;
}

/** [start, stop, step] per dimension (PyTorch slicing; negative start/stop count from the end; step > 0). */
export type SliceSpec = readonly [number?, number?, number?] | number | null;

export function slice(x: Tensor, specs: readonly SliceSpec[]): Tensor {
  assertTensor('slice', x);
  if (specs.length > x.rank) throw shapeError('slice', `${specs.length} slices for a rank-${x.rank} tensor`, x.shape);
  const shape: number[] = [];
  const strides: number[] = [];
  const starts: number[] = [];
  const steps: number[] = [];
  const dropped: boolean[] = [];
  let offset = x.offset;
  for (let d = 0; d < x.rank; d++) {
    const n = x.shape[d];
    const spec = specs[d] ?? null;
    if (typeof spec === 'number') {
      const i = spec < 0 ? spec + n : spec;
      if (i < 0 || i >= n) throw shapeError('slice', `index ${spec} out of range for dimension ${d}`, x.shape);
      offset += i * x.strides[d];
      starts.push(i);
      steps.push(1);
      dropped.push(true);
      continue;
    }
    const [s0, e0, st = 1] = spec ?? [];
    if (!Number.isInteger(st) || st <= 0) throw new TensorError('slice', `step must be a positive integer, got ${st}`);
    const clampIdx = (v: number | undefined, dflt: number) => {
      if (v === undefined || v === null) return dflt;
      const w = v < 0 ? v + n : v;
      return Math.min(Math.max(w, 0), n);
    };
    const start = clampIdx(s0, 0);
    const stop = clampIdx(e0, n);
    const len = Math.max(0, Math.ceil((stop - start) / st));
    offset += start * x.strides[d];
    shape.push(len);
    strides.push(x.strides[d] * st);
    starts.push(start);
    steps.push(st);
    dropped.push(false);
  }
  const y = x.view(shape, strides, offset, 'slice');
  const inShape = x.shape;
  record('slice', [x], [y], ([g]) => [sliceBackward(g!, inShape, starts, steps, dropped)]);
  return y;
}

/** The gradient of a slice: zeros of the input's shape with g written into the sliced region. */
function sliceBackward(g: Tensor, inShape: Shape, starts: number[], steps: number[], dropped: boolean[]): Tensor {
  const out = zeros(inShape);
  const fullShape: number[] = [];
  const strides: number[] = [];
  const base = contiguousStrides(inShape);
  let offset = 0;
  let k = 0;
  for (let d = 0; d < inShape.length; d++) {
    offset += starts[d] * base[d];
    if (dropped[d]) continue;
    fullShape.push(g.shape[k++]);
    strides.push(base[d] * steps[d]);
  }
  writeStrided(out, fullShape, strides, offset, g);
  return out;
}

/**
 * dst[view(shape, strides, offset)] = src, in place. Only for tensors the caller just created: no autograd,
 * no aliasing checks.
 */
export function writeStrided(dst: Tensor, shape: Shape, strides: Shape, offset: number, src: Tensor): void {
  if (!shapesEqual(shape, src.shape)) throw shapeError('writeStrided', 'region and source differ', shape, src.shape);
  if (numel(shape) === 0) return;
  const region: ViewLike = { buffer: dst.buffer, dtype: dst.dtype, shape, strides, offset };
  for (const [s, d] of sliceIndexSpace('writeStrided', shape, [src, region])) copyKernel(s, d);
}

/** A tensor sharing storage with x but cut from the graph. */
export function detach(x: Tensor): Tensor {
  assertTensor('detach', x);
  return x.view(x.shape, x.strides, x.offset, 'detach');
}
