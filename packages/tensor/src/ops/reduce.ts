import { record } from '../autograd/graph.ts';
import { computeType, type DType } from '../dtype.ts';
import { f32Bits } from '../kernels/uniforms.ts';
import { shapeError } from '../errors.ts';
import { engine } from '../runtime/engine.ts';
import { contiguousStrides, normalizeAxis, numel } from '../shape.ts';
import { allBindWhole, bindableBytes, bindView, type ViewLike } from '../kernels/binding.ts';
import { indexSlices } from '../kernels/slices.ts';
import { gpuReduceLayout, type ReduceLayout } from '../kernels/reduce-layout.ts';
import { subgroupTrees } from '../kernels/subgroup-tree.ts';
import { partialsCode, partialsKey, partialsUniforms, type ReduceKind, reduceCode, reduceKey, reduceUniforms, type ReduceVariant, WG } from '../kernels/reduce-code.ts';
import { memoKernel } from '../kernels/memo.ts';
import { assertTensor, Tensor } from '../tensor.ts';
import { arange } from './creation.ts';
import { div, eq, where } from './elementwise.ts';
import { expand, reshape } from './view.ts';

export type Axes = number | readonly number[] | null | undefined;


interface Plan {
  axes: number[];
  keptDims: number[];
  outShape: number[];
  keepShape: number[];
  redSize: number;
}

function plan(op: string, x: Tensor, axes: Axes, keepdim: boolean): Plan {
  const list = axes === null || axes === undefined ? x.shape.map((_, i) => i) : typeof axes === 'number' ? [axes] : [...axes];
  const norm = list.map((a) => normalizeAxis(a, x.rank));
  if (norm.some((a) => a < 0) || new Set(norm).size !== norm.length) {
    throw shapeError(op, `axes [${list.join(', ')}] out of range or repeated for rank ${x.rank}`, x.shape);
  }
  const set = new Set(norm);
  const keptDims = x.shape.map((_, i) => i).filter((i) => !set.has(i));
  const keepShape = x.shape.map((s, i) => (set.has(i) ? 1 : s));
  const outShape = keepdim ? keepShape : keptDims.map((i) => x.shape[i]);
  return { axes: norm.sort((a, b) => a - b), keptDims, outShape, keepShape, redSize: numel(norm.map((a) => x.shape[a])) };
}

const SMALL = 64;
/** Outputs that keep a GPU busy with a thread each. */
const MANY_OUTPUTS = 256;
/** Fewer outputs than this over a long extent: split the extent into chunks and reduce the partials. */
const FEW_OUTPUTS = 128;
const CHUNK_MIN = 4096;
const MAX_CHUNKS = 256;

/** Drops size-1 dims and merges dims whose strides make them one, keeping the row-major index order. */
function mergeDims(shape: readonly number[], strides: readonly number[]): { shape: number[]; strides: number[] } {
  const out = { shape: [] as number[], strides: [] as number[] };
  shape.forEach((s, i) => {
    if (s === 1) return;
    const k = out.shape.length - 1;
    if (k >= 0 && out.strides[k] === strides[i] * s) {
      out.shape[k] *= s;
      out.strides[k] = strides[i];
    } else {
      out.shape.push(s);
      out.strides.push(strides[i]);
    }
  });
  return out;
}

/**
 * How a reduction is laid out (see ReduceLayout): on CPU adapters a thread per output (no barriers; coalesced
 * when the outputs are neighbours in memory, as when reducing over a non-last axis), or a workgroup per output
 * with a tree, optionally over `chunks` slices of the extent whose partials a second kernel combines (long
 * reductions to few outputs); GPU-class adapters get gpuReduceLayout.
 */
function layoutFor(nOut: number, redSize: number, red: { strides: readonly number[] }, kept: { strides: readonly number[] }): ReduceLayout {
  if (redSize <= SMALL) return { thread: true, chunks: 1 };
  const innerKeptContiguous = kept.strides.at(-1) === 1 && !red.strides.includes(1);
  // GPUs want far more invocations than outputs here; CPU adapters keep the layouts below (measured on lavapipe).
  if (!engine().isCpu) return gpuReduceLayout(nOut, redSize, innerKeptContiguous);
  if (nOut >= MANY_OUTPUTS && innerKeptContiguous) return { thread: true, chunks: 1 };
  if (nOut >= SMALL && engine().isCpu) return { thread: true, chunks: 1 };
  if (nOut < FEW_OUTPUTS && redSize >= 2 * CHUNK_MIN) {
    return { thread: false, chunks: Math.min(MAX_CHUNKS, Math.ceil(redSize / CHUNK_MIN), Math.ceil((4 * FEW_OUTPUTS) / nOut)) };
  }
  return { thread: false, chunks: 1 };
}

/**
 * One reduction kernel for every kind: a thread or a workgroup per output element (see layoutFor). Ties keep
 * the first index. Tensors larger than a binding are reduced in slices (slicedReduce).
 */
function reduceKernel(
  op: string,
  kind: ReduceKind,
  x: Tensor,
  p: Plan,
  withIndex: boolean,
  scale = 1,
): { values: Tensor; indices: Tensor | null } {
  const outDtype: DType = x.dtype;
  const values = Tensor.empty(p.outShape, outDtype, op);
  const indices = withIndex ? Tensor.empty(p.outShape, 'i32', op) : null;
  const nOut = numel(p.outShape);
  if (nOut === 0) return { values, indices };
  if (p.redSize === 0 && kind !== 'sum') throw shapeError(op, 'cannot reduce over an empty dimension', x.shape);
  const kept = mergeDims(
    p.keptDims.map((d) => x.shape[d]),
    p.keptDims.map((d) => x.strides[d]),
  );
  const red = mergeDims(
    p.axes.map((d) => x.shape[d]),
    p.axes.map((d) => x.strides[d]),
  );
  const spec: ReduceSpec = { op, kind, withIndex, scale };
  const lay = layoutFor(nOut, p.redSize, red, kept);
  // x as one view over [kept..., reduced...]; the outputs as views of the same index space (stride 0 along reduced dims).
  const shape = [...kept.shape, ...red.shape];
  const outStrides = [...contiguousStrides(kept.shape), ...red.shape.map(() => 0)];
  const xv: ViewLike = { buffer: x.buffer, dtype: x.dtype, offset: x.offset, shape, strides: [...kept.strides, ...red.strides] };
  const vv: ViewLike = { buffer: values.buffer, dtype: values.dtype, offset: 0, shape, strides: outStrides };
  const iv: ViewLike | null = indices && { ...vv, buffer: indices.buffer, dtype: 'i32' };
  if (allBindWhole([xv, vv, ...(iv ? [iv] : [])])) reduceDispatch(spec, xv, kept.shape.length, vv, iv, lay, 0);
  else slicedReduce(spec, xv, kept.shape.length, vv, iv, lay);
  return { values, indices };
}

interface ReduceSpec {
  op: string;
  kind: ReduceKind;
  withIndex: boolean;
  /** Multiplies the result at its final store (f16 mean); partials are stored unscaled. */
  scale: number;
}

/**
 * Reduces in slices that each fit a binding: runs of whole outputs are reduced as usual and written in place; an
 * output whose own reduced extent is larger than a binding is reduced in parts, whose partials (values, and
 * indices into the whole extent) are combined in order, so ties still keep the first index.
 */
function slicedReduce(spec: ReduceSpec, x: ViewLike, keptRank: number, values: ViewLike, indices: ViewLike | null, lay: ReduceLayout): void {
  const redShape = x.shape.slice(keptRank);
  const redSize = numel(redShape);
  const A = computeType(x.dtype);
  const slices = indexSlices(spec.op, x.shape, [x, values, ...(indices ? [indices] : [])]);
  for (let i = 0; i < slices.length; ) {
    const [xs, vs, is] = slices[i].views;
    const cut = x.shape.length - xs.shape.length;
    if (cut < keptRank) {
      // Whole outputs: the unsliced layout (same summation order), its partials kept within a binding.
      const nOut = numel(vs.shape.slice(0, keptRank - cut));
      const chunks = Math.max(1, Math.min(lay.chunks, Math.floor(bindableBytes() / (4 * nOut))));
      reduceDispatch(spec, xs, keptRank - cut, vs, is ?? null, { thread: lay.thread, chunks }, 0);
      i++;
      continue;
    }
    // Parts of one output's reduction: consecutive slices, in order.
    const o = Math.floor(slices[i].first / redSize);
    let j = i;
    while (j < slices.length && Math.floor(slices[j].first / redSize) === o && x.shape.length - slices[j].views[0].shape.length >= keptRank) j++;
    const pv = Tensor.empty([j - i], A, spec.op);
    const pi = spec.withIndex ? Tensor.empty([j - i], 'i32', spec.op) : null;
    const part = { ...spec, scale: 1 };
    for (let k = i; k < j; k++) {
      const v = slices[k].views[0];
      const at = (t: Tensor): ViewLike => ({ buffer: t.buffer, dtype: t.dtype, offset: k - i, shape: v.shape, strides: v.shape.map(() => 0) });
      const pRed = { shape: v.shape, strides: v.strides };
      reduceDispatch(part, v, 0, at(pv), pi && at(pi), layoutFor(1, numel(v.shape), pRed, { strides: [] }), slices[k].first % redSize);
    }
    combinePartials(spec.op, spec.kind, pv, pi, vs, is ?? null, 1, j - i, spec.scale);
    pv.dispose();
    pi?.dispose();
    i = j;
  }
}

/**
 * One reduction over a view of [kept..., reduced...] (the first keptRank dims kept), into the output views
 * (offsets only: outputs are consecutive from there). `idxBase` is added to the indices written.
 */
function reduceDispatch(
  spec: ReduceSpec,
  x: ViewLike,
  keptRank: number,
  values: ViewLike,
  indices: ViewLike | null,
  lay: ReduceLayout,
  idxBase: number,
): void {
  const { op, kind, scale } = spec;
  const { thread, chunks } = lay;
  const kept = { shape: x.shape.slice(0, keptRank), strides: x.strides.slice(0, keptRank) };
  const red = { shape: x.shape.slice(keptRank), strides: x.strides.slice(keptRank) };
  const nOut = numel(kept.shape);
  const redSize = numel(red.shape);
  // f16 is read into an f32 accumulator (partials too) and rounded once at the final store, times `scale`.
  const A = computeType(x.dtype);
  // With chunks, this kernel writes nOut x chunks partials (indices into the whole extent) for a second pass.
  const vOut = chunks > 1 ? Tensor.empty([nOut * chunks], A, op) : null;
  const iOut = chunks > 1 && indices ? Tensor.empty([nOut * chunks], 'i32', op) : null;
  const bx = bindView(x, op);
  const bv = vOut ? { resource: vOut.buffer, offset: 0 } : bindView(values, op);
  const bi = iOut ? { resource: iOut.buffer, offset: 0 } : indices && bindView(indices, op);
  const v: ReduceVariant = {
    mode: thread ? (chunks > 1 ? 'columns' : 'thread') : subgroupTrees() ? 'subgroups' : 'tree',
    kind,
    T: x.dtype,
    A,
    out: vOut ? A : values.dtype,
    partials: vOut !== null,
    index: bi !== null,
    withIndex: spec.withIndex && kind !== 'sum',
    keptRank: kept.shape.length,
    redRank: red.shape.length,
  };
  const key = reduceKey(v);
  engine().dispatch({
    label: op,
    key,
    code: memoKernel(key, () => reduceCode(v)),
    buffers: [bx.resource, bv.resource, ...(bi ? [bi.resource] : [])],
    uniforms: reduceUniforms(v.keptRank, v.redRank).pack({
      nOut,
      redSize,
      offset: bx.offset,
      chunks,
      chunkLen: Math.ceil(redSize / chunks),
      scale: f32Bits(scale),
      outOff: bv.offset,
      idxBase,
      outShape: kept.shape,
      outStr: kept.strides,
      redShape: red.shape,
      redStr: red.strides,
    }),
    workgroups: thread ? Math.ceil((nOut * chunks) / WG) : nOut * chunks,
  });
  if (vOut) {
    // Column partials are chunk-major ([chunks, nOut]), tree partials output-major ([nOut, chunks]).
    const at = thread ? { oStride: 1, cStride: nOut } : { oStride: chunks, cStride: 1 };
    combinePartials(op, kind, vOut, iOut, values, indices, nOut, chunks, scale, at);
    vOut.dispose();
    iOut?.dispose();
  }
}

/** Second pass of a chunked reduction: a thread per output over its chunk partials, in chunk order. */
function combinePartials(
  op: string,
  kind: ReduceKind,
  pv: Tensor,
  pi: Tensor | null,
  values: ViewLike,
  indices: ViewLike | null,
  nOut: number,
  chunks: number,
  scale: number,
  at = { oStride: chunks, cStride: 1 },
): void {
  const bv = bindView(values, op);
  const bi = indices && bindView(indices, op);
  const key = partialsKey(kind, pv.dtype, values.dtype, pi !== null, bi !== null);
  engine().dispatch({
    label: `${op}_partials`,
    key,
    code: memoKernel(key, () => partialsCode(kind, pv.dtype, values.dtype, pi !== null, bi !== null)),
    buffers: [pv.buffer, ...(pi ? [pi.buffer] : []), bv.resource, ...(bi ? [bi.resource] : [])],
    uniforms: partialsUniforms().pack({ nOut, chunks, scale: f32Bits(scale), outOff: bv.offset, ...at }),
    workgroups: Math.ceil(nOut / WG),
  });
}

export function sum(x: Tensor, axes?: Axes, keepdim = false): Tensor {
  assertTensor('sum', x);
  const p = plan('sum', x, axes, keepdim);
  const { values } = reduceKernel('sum', 'sum', x, p, false);
  const inShape = x.shape;
  record('sum', [x], [values], ([g]) => [expand(reshape(g!, p.keepShape), inShape)]);
  return values;
}

export function mean(x: Tensor, axes?: Axes, keepdim = false): Tensor {
  assertTensor('mean', x);
  const p = plan('mean', x, axes, keepdim);
  if (x.dtype === 'f16') return halfMean(x, p);
  const s = sum(x, axes, keepdim);
  const m = div(s, p.redSize);
  s.dispose();
  return m;
}

/** Mean of halves: the f32 sum is scaled before rounding, so a large sum of a small mean never overflows f16. */
function halfMean(x: Tensor, p: Plan): Tensor {
  const { values } = reduceKernel('mean', 'sum', x, p, false, 1 / p.redSize);
  const inShape = x.shape;
  const n = p.redSize;
  record('mean', [x], [values], ([g]) => {
    const r = reshape(g!, p.keepShape);
    const e = expand(r, inShape);
    return [div(e, n)];
  });
  return values;
}

function extremum(kind: 'max' | 'min', x: Tensor, axis: number | null | undefined, keepdim: boolean): { values: Tensor; indices: Tensor } {
  assertTensor(kind, x);
  const p = plan(kind, x, axis ?? null, keepdim);
  const { values, indices } = reduceKernel(kind, kind, x, p, true);
  const inShape = x.shape;
  const all = axis === null || axis === undefined;
  record(
    kind,
    [x],
    [values, indices!],
    ([g], saved) => {
      const gk = reshape(g!, p.keepShape);
      if (all) {
        // Over all elements PyTorch spreads the gradient evenly over ties.
        const [xs, vs] = saved;
        const hit = eq(xs, reshape(vs, p.keepShape));
        const count = sum(hit);
        return [div(where(hit, expand(gk, inShape), 0), count)];
      }
      const d = p.axes[0];
      const ik = reshape(saved[2], p.keepShape);
      const iota = reshape(arange(inShape[d], 'i32'), inShape.map((s, i) => (i === d ? s : 1)));
      return [where(eq(iota, ik), expand(gk, inShape), 0)];
    },
    [x, values, indices!],
  );
  return { values, indices: indices! };
}

/** Max over one axis with the first index of each maximum, or over all elements (axis null). */
export const max = (x: Tensor, axis?: number | null, keepdim = false) => extremum('max', x, axis, keepdim);
export const min = (x: Tensor, axis?: number | null, keepdim = false) => extremum('min', x, axis, keepdim);

/** Maximum values over any set of axes (PyTorch amax); ties share the gradient evenly. */
export function amax(x: Tensor, axes?: Axes, keepdim = false): Tensor {
  assertTensor('amax', x);
  const p = plan('amax', x, axes, keepdim);
  const { values } = reduceKernel('amax', 'max', x, p, false);
  const inShape = x.shape;
  record(
    'amax',
    [x],
    [values],
    ([g], [xs, vs]) => {
      const hit = eq(xs, reshape(vs, p.keepShape));
      const count = sum(hit, p.axes, true);
      return [div(where(hit, expand(reshape(g!, p.keepShape), inShape), 0), count)];
    },
    [x, values],
  );
  return values;
}

/** Index of the first maximum along `axis`, or the flat index over all elements when axis is null. */
export function argmax(x: Tensor, axis?: number | null, keepdim = false): Tensor {
  assertTensor('argmax', x);
  const { values, indices } = reduceKernel('argmax', 'max', x, plan('argmax', x, axis ?? null, keepdim), true);
  values.dispose();
  return indices!;
}

export function argmin(x: Tensor, axis?: number | null, keepdim = false): Tensor {
  assertTensor('argmin', x);
  const { values, indices } = reduceKernel('argmin', 'min', x, plan('argmin', x, axis ?? null, keepdim), true);
  values.dispose();
  return indices!;
}
