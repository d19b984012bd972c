import { record } from '../autograd/graph.ts';
import { computeType, type DType } from '../dtype.ts';
import { f32Bits } from '../kernels/uniforms.ts';
import { shapeError } from '../errors.ts';
import { ENTRY_ARGS, UniformLayout } from '../kernels/uniforms.ts';
import { engine } from '../runtime/engine.ts';
import { contiguousStrides, normalizeAxis, numel } from '../shape.ts';
import { allBindWhole, bindableBytes, bindView, type ViewLike } from '../kernels/binding.ts';
import { indexSlices } from '../kernels/slices.ts';
import { assertTensor, Tensor } from '../tensor.ts';
import { arange } from './creation.ts';
import { div, eq, where } from './elementwise.ts';
import { expand, reshape } from './view.ts';

export type Axes = number | readonly number[] | null | undefined;

type ReduceKind = 'sum' | 'max' | 'min';

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
const WG = 64;
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
 * How a reduction is laid out: a thread per output (no barriers; coalesced when the outputs are neighbours in
 * memory, as when reducing over a non-last axis), or a workgroup per output with a tree, optionally over
 * `chunks` slices of the extent whose partials a second kernel combines (long reductions to few outputs).
 */
function layoutFor(nOut: number, redSize: number, red: { strides: readonly number[] }, kept: { strides: readonly number[] }): { thread: boolean; chunks: number } {
  if (redSize <= SMALL) return { thread: true, chunks: 1 };
  const innerKeptContiguous = kept.strides.at(-1) === 1 && !red.strides.includes(1);
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
function slicedReduce(spec: ReduceSpec, x: ViewLike, keptRank: number, values: ViewLike, indices: ViewLike | null, lay: { thread: boolean; chunks: number }): void {
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
  lay: { thread: boolean; chunks: number },
  idxBase: number,
): void {
  const { op, kind, scale } = spec;
  const { thread, chunks } = lay;
  const outDtype = values.dtype;
  // f16 is read into an f32 accumulator (partials too) and rounded once at the final store, times `scale`.
  const A = computeType(x.dtype);
  const kept = { shape: x.shape.slice(0, keptRank), strides: x.strides.slice(0, keptRank) };
  const red = { shape: x.shape.slice(keptRank), strides: x.strides.slice(keptRank) };
  const nOut = numel(kept.shape);
  const redSize = numel(red.shape);
  const kr = Math.max(kept.shape.length, 1);
  const rr = Math.max(red.shape.length, 1);
  const u = new UniformLayout()
    .field('nOut')
    .field('redSize')
    .field('offset')
    .field('chunks')
    .field('chunkLen')
    .field('scale')
    .field('outOff')
    .field('idxBase')
    .field('outShape', kr)
    .field('outStr', kr)
    .field('redShape', rr)
    .field('redStr', rr);
  const T = x.dtype;
  const init = kind === 'sum' ? `${A}(0)` : kind === 'max' ? lowest(A) : highest(A);
  const store = (v: string) => (A === 'f32' ? `${outDtype}(${v} * bitcast<f32>(${u.at('scale')}))` : v);
  const combine = combiner(kind);
  const baseCode = offsetCode(u, 'base', 'o', kept.shape.length, 'outShape', 'outStr', true);
  const redCode = offsetCode(u, 'ro', 'r', red.shape.length, 'redShape', 'redStr', false);
  // With chunks, this kernel writes [nOut, chunks] partials (indices into the whole extent) for a second pass.
  const vOut = chunks > 1 ? Tensor.empty([nOut * chunks], A, op) : null;
  const iOut = chunks > 1 && indices ? Tensor.empty([nOut * chunks], 'i32', op) : null;
  const bx = bindView(x, op);
  const bv = vOut ? { resource: vOut.buffer, offset: 0 } : bindView(values, op);
  const bi = iOut ? { resource: iOut.buffer, offset: 0 } : indices && bindView(indices, op);
  const bufs = [bx.resource, bv.resource, ...(bi ? [bi.resource] : [])];
  const decl = `@group(0) @binding(0) var<storage, read> x: array<${T}>;
@group(0) @binding(1) var<storage, read_write> outv: array<${vOut ? A : outDtype}>;
${bi ? '@group(0) @binding(2) var<storage, read_write> outi: array<i32>;' : ''}
${u.declare(bufs.length)}`;
  const outAt = (o: string) => `${u.at('outOff')} + ${o}`;
  const idxOut = (i: string) => `i32(${i} + ${u.at('idxBase')})`;
  let code: string;
  if (thread) {
    code = `${decl}
@compute @workgroup_size(${WG})
fn main(${ENTRY_ARGS}) {
  let o = gid.x + gid.y * nwg.x * ${WG}u;
  if (o >= ${u.at('nOut')}) { return; }
  ${baseCode}
  var acc = ${init};
  var idx = 0x7fffffffu;
  for (var r = 0u; r < ${u.at('redSize')}; r++) {
    ${redCode}
    let v = ${A}(x[base + ro]);
    ${combine('acc', 'idx', 'v', 'r')}
  }
  outv[${outAt('o')}] = ${vOut ? 'acc' : store('acc')};
  ${bi ? `outi[${outAt('o')}] = ${idxOut('idx')};` : ''}
}`;
  } else {
    code = `${decl}
var<workgroup> sv: array<${A}, ${WG}>;
var<workgroup> si: array<u32, ${WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let w = wid.x + wid.y * nwg.x;
  let o = w / ${u.at('chunks')};
  if (o >= ${u.at('nOut')}) { return; }
  let r0 = (w % ${u.at('chunks')}) * ${u.at('chunkLen')};
  let r1 = min(r0 + ${u.at('chunkLen')}, ${u.at('redSize')});
  ${baseCode}
  var acc = ${init};
  var idx = 0x7fffffffu;
  for (var r = r0 + lid; r < r1; r += ${WG}u) {
    ${redCode}
    let v = ${A}(x[base + ro]);
    ${combine('acc', 'idx', 'v', 'r')}
  }
  sv[lid] = acc;
  si[lid] = idx;
  workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s >>= 1u) {
    if (lid < s) {
      var a = sv[lid];
      var ai = si[lid];
      let b = sv[lid + s];
      let bi = si[lid + s];
      ${combine('a', 'ai', 'b', 'bi')}
      sv[lid] = a;
      si[lid] = ai;
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    outv[${outAt('w')}] = ${vOut ? 'sv[0]' : store('sv[0]')};
    ${bi ? `outi[${outAt('w')}] = ${idxOut('si[0]')};` : ''}
  }
}`;
  }
  const chunkLen = Math.ceil(redSize / chunks);
  engine().dispatch({
    label: op,
    code,
    buffers: bufs,
    uniforms: u.pack({
      nOut,
      redSize,
      offset: bx.offset,
      chunks,
      chunkLen,
      scale: f32Bits(scale),
      outOff: bv.offset,
      idxBase,
      outShape: kept.shape,
      outStr: kept.strides,
      redShape: red.shape,
      redStr: red.strides,
    }),
    workgroups: thread ? Math.ceil(nOut / WG) : nOut * chunks,
  });
  if (vOut) {
    combinePartials(op, kind, vOut, iOut, values, indices, nOut, chunks, scale);
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
): void {
  const T = pv.dtype;
  const u = new UniformLayout().field('nOut').field('chunks').field('scale').field('outOff');
  const final = T === 'f32' ? `${values.dtype}(acc * bitcast<f32>(${u.at('scale')}))` : 'acc';
  const bv = bindView(values, op);
  const bi = indices && bindView(indices, op);
  const bufs = [pv.buffer, ...(pi ? [pi.buffer] : []), bv.resource, ...(bi ? [bi.resource] : [])];
  const code = `@group(0) @binding(0) var<storage, read> pv: array<${T}>;
${pi ? '@group(0) @binding(1) var<storage, read> pi: array<i32>;' : ''}
@group(0) @binding(${pi ? 2 : 1}) var<storage, read_write> outv: array<${values.dtype}>;
${bi ? `@group(0) @binding(${pi ? 3 : 2}) var<storage, read_write> outi: array<i32>;` : ''}
${u.declare(bufs.length)}
@compute @workgroup_size(${WG})
fn main(${ENTRY_ARGS}) {
  let o = gid.x + gid.y * nwg.x * ${WG}u;
  if (o >= ${u.at('nOut')}) { return; }
  let c0 = o * ${u.at('chunks')};
  var acc = pv[c0];
  var idx = ${pi ? 'u32(pi[c0])' : '0u'};
  for (var c = 1u; c < ${u.at('chunks')}; c++) {
    let v = pv[c0 + c];
    let vi = ${pi ? 'u32(pi[c0 + c])' : 'c'};
    ${combiner(kind)('acc', 'idx', 'v', 'vi')}
  }
  outv[${u.at('outOff')} + o] = ${final};
  ${bi ? `outi[${u.at('outOff')} + o] = i32(idx);` : ''}
}`;
  engine().dispatch({
    label: `${op}_partials`,
    code,
    buffers: bufs,
    uniforms: u.pack({ nOut, chunks, scale: f32Bits(scale), outOff: bv.offset }),
    workgroups: Math.ceil(nOut / WG),
  });
}

function combiner(kind: ReduceKind): (acc: string, idx: string, v: string, vi: string) => string {
  const better = kind === 'max' ? '>' : '<';
  return (acc, idx, v, vi) =>
    kind === 'sum'
      ? `${acc} = ${acc} + ${v};`
      : `if (${v} ${better} ${acc} || (${v} == ${acc} && ${vi} < ${idx})) { ${acc} = ${v}; ${idx} = ${vi}; }`;
}

function offsetCode(u: UniformLayout, out: string, index: string, rank: number, shapeF: string, strideF: string, withBase: boolean): string {
  const lines = [`var ${out} = ${withBase ? u.at('offset') : '0u'};`, `{ var rem = ${index};`];
  for (let d = rank - 1; d >= 0; d--) {
    const dim = u.at(shapeF, d);
    // The outermost dim needs no modulo: the index is in range.
    if (d > 0) lines.push(`  ${out} += (rem % ${dim}) * ${u.at(strideF, d)}; rem = rem / ${dim};`);
    else lines.push(`  ${out} += rem * ${u.at(strideF, d)};`);
  }
  lines.push('}');
  return lines.join('\n  ');
}

function lowest(t: DType): string {
  return t === 'f32' ? '-3.4028234e38' : t === 'i32' ? 'i32(-2147483648)' : '0u';
}
function highest(t: DType): string {
  return t === 'f32' ? '3.4028234e38' : t === 'i32' ? '2147483647i' : '4294967295u';
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

export { sumToShape } from './sum-to-shape.ts';
