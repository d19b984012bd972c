import { record } from '../autograd/graph.ts';
import type { DType } from '../dtype.ts';
import { shapeError } from '../errors.ts';
import { ENTRY_ARGS, UniformLayout } from '../kernels/uniforms.ts';
import { engine } from '../runtime/engine.ts';
import { normalizeAxis, numel, type Shape, shapesEqual } from '../shape.ts';
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

/**
 * One reduction kernel for every kind: a workgroup per output element with a tree in workgroup memory, or a
 * thread per output element when the reduced extent is small. Ties keep the first index.
 */
function reduceKernel(op: string, kind: ReduceKind, x: Tensor, p: Plan, withIndex: boolean): { values: Tensor; indices: Tensor | null } {
  const outDtype: DType = kind === 'sum' ? (x.dtype === 'f32' ? 'f32' : x.dtype) : x.dtype;
  const values = Tensor.empty(p.outShape, outDtype, op);
  const indices = withIndex ? Tensor.empty(p.outShape, 'i32', op) : null;
  const nOut = numel(p.outShape);
  if (nOut === 0) return { values, indices };
  if (p.redSize === 0 && kind !== 'sum') throw shapeError(op, 'cannot reduce over an empty dimension', x.shape);
  const kr = Math.max(p.keptDims.length, 1);
  const rr = Math.max(p.axes.length, 1);
  const u = new UniformLayout()
    .field('nOut')
    .field('redSize')
    .field('offset')
    .field('outShape', kr)
    .field('outStr', kr)
    .field('redShape', rr)
    .field('redStr', rr);
  const T = x.dtype;
  const init = kind === 'sum' ? `${T}(0)` : kind === 'max' ? lowest(T) : highest(T);
  const better = kind === 'max' ? '>' : '<';
  const baseCode = offsetCode(u, 'base', 'o', p.keptDims.length, 'outShape', 'outStr', true);
  const redCode = offsetCode(u, 'ro', 'r', p.axes.length, 'redShape', 'redStr', false);
  const small = p.redSize <= SMALL;
  const combine = (acc: string, idx: string, v: string, vi: string) =>
    kind === 'sum'
      ? `${acc} = ${acc} + ${v};`
      : `if (${v} ${better} ${acc} || (${v} == ${acc} && ${vi} < ${idx})) { ${acc} = ${v}; ${idx} = ${vi}; }`;
  const bufs = [x.buffer, values.buffer, ...(indices ? [indices.buffer] : [])];
  const decl = `@group(0) @binding(0) var<storage, read> x: array<${T}>;
@group(0) @binding(1) var<storage, read_write> outv: array<${outDtype}>;
${indices ? '@group(0) @binding(2) var<storage, read_write> outi: array<i32>;' : ''}
${u.declare(bufs.length)}`;
  let code: string;
  if (small) {
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
    let v = x[base + ro];
    ${combine('acc', 'idx', 'v', 'r')}
  }
  outv[o] = acc;
  ${indices ? 'outi[o] = i32(idx);' : ''}
}`;
  } else {
    code = `${decl}
var<workgroup> sv: array<${T}, ${WG}>;
var<workgroup> si: array<u32, ${WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let o = wid.x + wid.y * nwg.x;
  if (o >= ${u.at('nOut')}) { return; }
  ${baseCode}
  var acc = ${init};
  var idx = 0x7fffffffu;
  for (var r = lid; r < ${u.at('redSize')}; r += ${WG}u) {
    ${redCode}
    let v = x[base + ro];
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
    outv[o] = sv[0];
    ${indices ? 'outi[o] = i32(si[0]);' : ''}
  }
}`;
  }
  engine().dispatch({
    label: op,
    code,
    buffers: bufs,
    uniforms: u.pack({
      nOut,
      redSize: p.redSize,
      offset: x.offset,
      outShape: p.keptDims.map((d) => x.shape[d]),
      outStr: p.keptDims.map((d) => x.strides[d]),
      redShape: p.axes.map((d) => x.shape[d]),
      redStr: p.axes.map((d) => x.strides[d]),
    }),
    workgroups: small ? Math.ceil(nOut / WG) : nOut,
  });
  return { values, indices };
}

function offsetCode(u: UniformLayout, out: string, index: string, rank: number, shapeF: string, strideF: string, withBase: boolean): string {
  const lines = [`var ${out} = ${withBase ? u.at('offset') : '0u'};`, `{ var rem = ${index};`];
  for (let d = rank - 1; d >= 0; d--) {
    const dim = u.at(shapeF, d);
    lines.push(`  ${out} += (rem % ${dim}) * ${u.at(strideF, d)}; rem = rem / ${dim};`);
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
  const s = sum(x, axes, keepdim);
  const m = div(s, p.redSize);
  s.dispose();
  return m;
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

/** Sums a broadcast gradient back to the shape of the input it came from. */
export function sumToShape(g: Tensor, shape: Shape): Tensor {
  if (shapesEqual(g.shape, shape)) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  if (axes.length === 0) return reshape(g, shape);
  const s = sum(g, axes, true);
  const r = reshape(s, shape);
  s.dispose();
  return r;
}

