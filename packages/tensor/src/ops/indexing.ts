import { record } from '../autograd/graph.ts';
import { bytesPerElement, type DType } from '../dtype.ts';
import { bindableBytes } from '../kernels/binding.ts';
import { shapeError, TensorError } from '../errors.ts';
import { indexSegments, type Segments } from '../kernels/segments.ts';
import { bindView, type ViewLike } from '../kernels/binding.ts';
import { indexSlices } from '../kernels/slices.ts';
import { ceilDiv, perElementMain, stridedOffset, UniformLayout } from '../kernels/uniforms.ts';
import { engine } from '../runtime/engine.ts';
import { formatShape, normalizeAxis, numel, type Shape } from '../shape.ts';
import { assertTensor, Tensor } from '../tensor.ts';
import { zeros } from './creation.ts';
import { pad } from './shape.ts';
import { reshape } from './view.ts';
import { bufferBytes } from '../runtime/buffer-bytes.ts';

/**
 * Index-driven reads and writes: gather, indexSelect (and embedding), scatterAdd, indexAdd, oneHot.
 *
 * Indices are i32 or u32 tensors that live on the GPU, so they cannot be validated on the host without a
 * readback. Out-of-range behaviour is defined instead, and consistent between an op and its gradient:
 *   - reads (gather, indexSelect, embedding) give 0 where an index is negative or >= the dimension's size;
 *   - accumulations (scatterAdd, indexAdd) drop contributions whose index is out of range;
 *   - oneHot gives an all-zero row.
 * No kernel ever touches memory outside its tensors. `checkIndices` reads indices back and throws, for
 * callers that want a hard error (debugging, data loaders).
 *
 * scatterAdd and indexAdd are deterministic: no atomics. Each output element sums its own contributions in
 * increasing index position. scatterAdd walks the index fiber that could land on it (numel(out) x index
 * extent along dim); indexAdd with a long index first groups positions by target (CSR, kernels/segments.ts),
 * so its cost is O(n·K + numel) instead of O(numel(out)·K). Both give the same bits.
 */

const WG = 256;
/** indexAdd groups index positions by target (kernels/segments.ts) from this many entries on. */
export const SEGMENT_MIN_ENTRIES = 64;

function axisOf(op: string, dim: number, x: Tensor): number {
  const d = normalizeAxis(dim, x.rank);
  if (d < 0) throw shapeError(op, `dim ${dim} out of range for rank ${x.rank}`, x.shape);
  return d;
}

function assertIndex(op: string, index: unknown): asserts index is Tensor {
  assertTensor(op, index, 'index');
  if (index.dtype !== 'i32' && index.dtype !== 'u32') throw new TensorError(op, `index must be i32 or u32, got ${index.dtype}`);
}

/** Reads back `index` and throws if any entry is outside [0, size). For debugging; costs a GPU sync. */
export async function checkIndices(op: string, index: Tensor, size: number): Promise<void> {
  assertIndex(op, index);
  const data = await index.data();
  for (let i = 0; i < data.length; i++) {
    if (data[i] < 0 || data[i] >= size) {
      throw new TensorError(op, `index ${data[i]} at position ${i} is out of range for a dimension of size ${size} (index shape ${formatShape(index.shape)})`);
    }
  }
}

// ---------------------------------------------------------------- kernels

/**
 * out[o] = x[xo(o) + index[io(o)] * dimStride], 0 where the index is out of range. xo and io are strided
 * offsets over the output's shape: the two gather-like ops differ only in those strides.
 */
function indexRead(op: string, x: Tensor, index: Tensor, dim: number, outShape: Shape, xStr: number[], idxStr: number[]): Tensor {
  const out = Tensor.empty(outShape, x.dtype, op);
  if (numel(outShape) === 0) return out;
  // x seen over the output's index space plus a trailing dim: the whole extent an index may pick from.
  const xv: ViewLike = { buffer: x.buffer, dtype: x.dtype, offset: x.offset, shape: [...outShape, x.shape[dim]], strides: [...xStr, x.strides[dim]] };
  const iv: ViewLike = { buffer: index.buffer, dtype: index.dtype, offset: index.offset, shape: outShape, strides: idxStr };
  for (const { views: [xs, is, os] } of indexSlices(op, outShape, [xv, iv, out])) readDispatch(op, xs, is, os);
  return out;
}

/** One dispatch: out (a contiguous view) = x (whose last dim is the indexed one) at the indices. */
function readDispatch(op: string, x: ViewLike, index: ViewLike, out: ViewLike): void {
  const outShape = out.shape;
  const n = numel(outShape);
  const r = Math.max(outShape.length, 1);
  const [bx, bi, bo] = [x, index, out].map((v) => bindView(v, op));
  const u = new UniformLayout().field('n').field('shape', r).field('xStr', r).field('xOff').field('iStr', r).field('iOff');
  u.field('size').field('dimStr').field('outOff');
  const T = x.dtype;
  const code = () => `
@group(0) @binding(0) var<storage, read> x: array<${T}>;
@group(0) @binding(1) var<storage, read> idx: array<${index.dtype}>;
@group(0) @binding(2) var<storage, read_write> out: array<${T}>;
${u.declare(3)}
${perElementMain(WG, u)}
  ${stridedOffset(u, 'xo', 'gidx', outShape.length, 'shape', 'xStr', 'xOff')}
  ${stridedOffset(u, 'io', 'gidx', outShape.length, 'shape', 'iStr', 'iOff')}
  let j = u32(idx[io]); // negative i32 wraps to a large u32: out of range
  let ok = j < ${u.at('size')};
  let v = x[xo + select(0u, j, ok) * ${u.at('dimStr')}];
  out[${u.at('outOff')} + gidx] = select(${T}(0), v, ok);
}`;
  const rank = outShape.length;
  engine().dispatch({
    label: op,
    key: `index_read|${T}|${index.dtype}|${rank}`,
    code,
    buffers: [bx.resource, bi.resource, bo.resource],
    uniforms: u.pack({
      n,
      shape: [...outShape],
      xStr: x.strides.slice(0, rank),
      xOff: bx.offset,
      iStr: [...index.strides],
      iOff: bi.offset,
      size: x.shape[rank],
      dimStr: x.strides[rank],
      outOff: bo.offset,
    }),
    workgroups: ceilDiv(n, WG),
  });
}

interface AccumulatePlan {
  /** Index strides for the output's coordinates off `dim` (0 for indexAdd's 1-D index), and along k. */
  idxStr: number[];
  idxK: number;
  /** Output coordinates off `dim` must be below these (scatterAdd's index may be smaller than the output). */
  limit: number[];
  /** Source strides off `dim` and along k. */
  srcStr: number[];
  srcK: number;
  /** Entries walked per output element. */
  K: number;
}

/**
 * accumulate, its walk along k cut in runs when one element's entries span more than a binding: each run adds
 * to the result of the runs before it, so every element still adds its entries in increasing k (same bits).
 * `segmented`: long indices (embedding and indexSelect backward) first group their positions by target, so each
 * output element walks its own entries instead of all K.
 */
function accumulateInRuns(op: string, base: Tensor, dim: number, index: Tensor, indexDim: number, src: Tensor, p: AccumulatePlan, segmented: boolean): Tensor {
  const kBytes = Math.max(Math.abs(p.idxK) * bytesPerElement(index.dtype), Math.abs(p.srcK) * bytesPerElement(src.dtype), 1);
  const run = Math.max(1, Math.floor(bindableBytes() / kBytes));
  if (run >= p.K || engine().maxBindingBytes >= Math.max(bufferBytes(index.buffer), bufferBytes(src.buffer))) {
    const seg = segmented && p.K >= SEGMENT_MIN_ENTRIES && base.size > 0 ? indexSegments(index, base.shape[dim]) : undefined;
    const out = accumulate(op, base, dim, index, src, p, seg);
    seg?.offsets.dispose();
    seg?.order.dispose();
    return out;
  }
  const cut = (t: Tensor, d: number, s: number, len: number) => t.view(t.shape.map((v, i) => (i === d ? len : v)), t.strides, t.offset + s * t.strides[d], op);
  let acc = base;
  for (let s = 0; s < p.K; s += run) {
    const len = Math.min(run, p.K - s);
    const is = cut(index, indexDim, s, len);
    const ss = cut(src, dim, s, len);
    const next = accumulateInRuns(op, acc, dim, is, indexDim, ss, { ...p, K: len }, segmented);
    is.dispose();
    ss.dispose();
    if (acc !== base) acc.dispose();
    acc = next;
  }
  return acc;
}

/**
 * out[c] = base[c] + sum over k < K of src[s(c, k)] where index[i(c, k)] == c[dim], in increasing k: the same
 * sum, in the same order, on every run.
 */
function accumulate(op: string, base: Tensor, dim: number, index: Tensor, src: Tensor, p: AccumulatePlan, seg?: Segments): Tensor {
  const shape = base.shape;
  const out = Tensor.empty(shape, base.dtype, op);
  if (numel(shape) === 0) return out;
  // index and src seen over the output's index space (stride 0 along dim) plus the k they are walked along.
  const along = (t: Tensor, str: number[], k: number): ViewLike => ({
    buffer: t.buffer,
    dtype: t.dtype,
    offset: t.offset,
    shape: [...shape, p.K],
    strides: [...str.map((v, d) => (d === dim ? 0 : v)), k],
  });
  const views = [base, out, along(index, p.idxStr, p.idxK), along(src, p.srcStr, p.srcK)];
  for (const { views: [bs, os, is, ss], first } of indexSlices(op, shape, views)) {
    const cut = shape.length - bs.shape.length;
    // Absolute coordinates of the slice's first element: fixed along the dims before the cut.
    const at = (d: number) => Math.floor(first / numel(shape.slice(d + 1))) % shape[d];
    const outside = shape.slice(0, cut).some((_, d) => d !== dim && at(d) >= p.limit[d]);
    const origin = { tgt: cut > dim ? at(dim) : 0, c0: cut < shape.length ? at(cut) : 0, outside };
    accumulateDispatch(op, bs, os, is, ss, dim - cut, origin, p, seg);
  }
  return out;
}

/** Where a slice lies in the whole: its target when cut past dim, its first coordinate, and whether it lies past the index. */
interface SliceOrigin {
  tgt: number;
  c0: number;
  outside: boolean;
}

/**
 * One dispatch: out (a contiguous view) = base + the entries of src whose index hits each element. `dim` is the
 * target dim within these views, or negative when the views lie at one target (`o.tgt`); coordinates along the
 * views' first dim start at `o.c0`.
 */
function accumulateDispatch(op: string, base: ViewLike, out: ViewLike, index: ViewLike, src: ViewLike, dim: number, o: SliceOrigin, p: AccumulatePlan, seg?: Segments): void {
  const shape = base.shape;
  const n = numel(shape);
  const r = Math.max(shape.length, 1);
  const rank = shape.length;
  const cut = p.limit.length - rank;
  const [bb, bo, bi, bs] = [base, out, index, src].map((v) => bindView(v, op));
  const segBound = seg && [seg.offsets, seg.order].map((t) => bindView(t, op));
  const u = new UniformLayout().field('n').field('K').field('shape', r).field('limit', r).field('bStr', r).field('bOff');
  u.field('iStr', r).field('iOff').field('iK').field('sStr', r).field('sOff').field('sK').field('outOff').field('tgt').field('c0');
  const coords: string[] = [];
  for (let d = rank - 1; d >= 0; d--) {
    coords.push(`{ let c = rem % ${u.at('shape', d)}; rem = rem / ${u.at('shape', d)};`);
    // Offsets move with the view's own coordinate; targets and limits compare the absolute one.
    coords.push(`  bo += c * ${u.at('bStr', d)}; let ca = c${d === 0 ? ` + ${u.at('c0')}` : ''};`);
    if (d === dim) coords.push('  tgt = ca; }');
    else coords.push(`  io += c * ${u.at('iStr', d)}; so += c * ${u.at('sStr', d)}; inside = inside && ca < ${u.at('limit', d)}; }`);
  }
  const T = base.dtype;
  // With segments (a 1-D index grouped by target), each element walks only its own entries, same order.
  const walk = seg
    ? `let q1 = offsets[tgt + 1u];
    for (var q = offsets[tgt]; q < q1; q++) { acc += src[so + order[q] * ${u.at('sK')}]; }`
    : `for (var k = 0u; k < ${u.at('K')}; k++) {
      if (u32(idx[io + k * ${u.at('iK')}]) == tgt) { acc += src[so + k * ${u.at('sK')}]; }
    }`;
  const indexDecl = seg
    ? `@group(0) @binding(1) var<storage, read> offsets: array<u32>;
@group(0) @binding(2) var<storage, read> order: array<u32>;`
    : `@group(0) @binding(1) var<storage, read> idx: array<${index.dtype}>;`;
  const b = seg ? 3 : 2;
  const code = () => `
@group(0) @binding(0) var<storage, read> base: array<${T}>;
${indexDecl}
@group(0) @binding(${b}) var<storage, read> src: array<${T}>;
@group(0) @binding(${b + 1}) var<storage, read_write> out: array<${T}>;
${u.declare(b + 2)}
${perElementMain(WG, u)}
  var rem = gidx;
  var bo = ${u.at('bOff')};
  var io = ${u.at('iOff')};
  var so = ${u.at('sOff')};
  var tgt = ${u.at('tgt')};
  var inside = true;
  ${coords.join('\n  ')}
  var acc = base[bo];
  if (inside) {
    ${walk}
  }
  out[${u.at('outOff')} + gidx] = acc;
}`;
  engine().dispatch({
    label: op,
    key: `index_accumulate|${T}|${seg ? 'segments' : index.dtype}|${rank}|${dim}`,
    code,
    buffers: [bb.resource, ...(segBound ? segBound.map((v) => v.resource) : [bi.resource]), bs.resource, bo.resource],
    uniforms: u.pack({
      n,
      // A slice past the index's extent along a dim before the cut only copies base.
      K: o.outside ? 0 : p.K,
      shape: [...shape],
      limit: p.limit.slice(cut),
      bStr: [...base.strides],
      bOff: bb.offset,
      iStr: index.strides.slice(0, rank),
      iOff: bi.offset,
      iK: p.idxK,
      sStr: src.strides.slice(0, rank),
      sOff: bs.offset,
      sK: p.srcK,
      outOff: bo.offset,
      tgt: o.tgt,
      c0: o.c0,
    }),
    workgroups: ceilDiv(n, WG),
  });
}

// ---------------------------------------------------------------- gather / scatterAdd

/** out[i][j][k] = x[i][index[i][j][k]][k] for dim 1 (torch.gather). index has x's rank; out has index's shape. */
export function gather(x: Tensor, dim: number, index: Tensor): Tensor {
  assertTensor('gather', x);
  assertIndex('gather', index);
  const d = axisOf('gather', dim, x);
  if (index.rank !== x.rank || index.shape.some((s, i) => i !== d && s > x.shape[i])) {
    throw shapeError('gather', `index must have the input's rank and no larger size off dim ${dim}`, x.shape, index.shape);
  }
  const xStr = x.strides.map((s, i) => (i === d ? 0 : s));
  const out = indexRead('gather', x, index, d, index.shape, xStr, [...index.strides]);
  const inShape = x.shape;
  record(
    'gather',
    [x],
    [out],
    ([g], [idx]) => {
      const z = zeros(inShape);
      const gx = scatterAdd(z, d, idx, g!);
      z.dispose();
      return [gx];
    },
    [index],
  );
  return out;
}

/**
 * Functional torch.scatter_add: a copy of x with src[i][j][k] added at x[i][index[i][j][k]][k] (dim 1).
 * Repeated indices accumulate; index entries beyond src are never read.
 */
export function scatterAdd(x: Tensor, dim: number, index: Tensor, src: Tensor): Tensor {
  assertTensor('scatterAdd', x);
  assertIndex('scatterAdd', index);
  assertTensor('scatterAdd', src, 'src');
  const d = axisOf('scatterAdd', dim, x);
  if (src.dtype !== x.dtype) throw new TensorError('scatterAdd', `src dtype ${src.dtype} differs from input dtype ${x.dtype}`);
  if (
    index.rank !== x.rank ||
    src.rank !== x.rank ||
    index.shape.some((s, i) => s > src.shape[i] || (i !== d && s > x.shape[i]))
  ) {
    throw shapeError('scatterAdd', `index must have the input's rank, fit in src, and fit in the input off dim ${dim}`, x.shape, index.shape, src.shape);
  }
  const out = accumulateInRuns('scatterAdd', x, d, index, d, src, {
    idxStr: [...index.strides],
    idxK: index.strides[d],
    limit: [...index.shape],
    srcStr: [...src.strides],
    srcK: src.strides[d],
    K: index.shape[d],
  }, false);
  const srcShape = src.shape;
  record(
    'scatterAdd',
    [x, src],
    [out],
    ([g], [idx]) => {
      const picked = gather(g!, d, idx);
      // Source entries outside the index's extent were never added: zero gradient.
      const extra = srcShape.map((s, i) => s - idx.shape[i]);
      if (extra.every((e) => e === 0)) return [g, picked];
      const pads = extra.flatMap((_, i) => [0, extra[extra.length - 1 - i]]);
      const gs = pad(picked, pads);
      picked.dispose();
      return [g, gs];
    },
    [index],
  );
  return out;
}

// ---------------------------------------------------------------- indexSelect / indexAdd

/**
 * Entries of x along `dim` picked by `index` (torch.index_select). A 1-D index replaces the dimension by its
 * length; an index of any other rank replaces it by its shape (as numpy.take with an axis).
 */
export function indexSelect(x: Tensor, dim: number, index: Tensor): Tensor {
  assertTensor('indexSelect', x);
  assertIndex('indexSelect', index);
  const d = axisOf('indexSelect', dim, x);
  const ri = index.rank;
  const outShape = [...x.shape.slice(0, d), ...index.shape, ...x.shape.slice(d + 1)];
  const xStr = [...x.strides.slice(0, d), ...new Array<number>(ri).fill(0), ...x.strides.slice(d + 1)];
  const iStr = [...new Array<number>(d).fill(0), ...index.strides, ...new Array<number>(x.rank - d - 1).fill(0)];
  const out = indexRead('indexSelect', x, index, d, outShape, xStr, iStr);
  const inShape = x.shape;
  record(
    'indexSelect',
    [x],
    [out],
    ([g], [idx]) => {
      const K = idx.size;
      // Fold the index's dimensions into one so indexAdd sees a 1-D index (views when contiguous).
      const flatIdx = ri === 1 ? idx : reshape(idx, [K]);
      const flatG = ri === 1 ? g! : reshape(g!, [...inShape.slice(0, d), K, ...inShape.slice(d + 1)]);
      const z = zeros(inShape);
      const gx = indexAdd(z, d, flatIdx, flatG);
      z.dispose();
      if (flatIdx !== idx) flatIdx.dispose();
      if (flatG !== g) flatG.dispose();
      return [gx];
    },
    [index],
  );
  return out;
}

/** Rows of `weight` ([V, ...]) looked up by integer ids of any shape: [...ids.shape, ...]. */
export function embedding(weight: Tensor, ids: Tensor): Tensor {
  assertTensor('embedding', weight, 'weight');
  if (weight.rank < 1) throw shapeError('embedding', 'weight needs at least one dimension', weight.shape);
  return indexSelect(weight, 0, ids);
}

/** Functional torch.index_add: a copy of x with src's k-th slice along dim added at index[k]; repeats accumulate. */
export function indexAdd(x: Tensor, dim: number, index: Tensor, src: Tensor): Tensor {
  assertTensor('indexAdd', x);
  assertIndex('indexAdd', index);
  assertTensor('indexAdd', src, 'src');
  const d = axisOf('indexAdd', dim, x);
  if (src.dtype !== x.dtype) throw new TensorError('indexAdd', `src dtype ${src.dtype} differs from input dtype ${x.dtype}`);
  const K = index.size;
  if (index.rank > 1 || src.rank !== x.rank || src.shape.some((s, i) => s !== (i === d ? K : x.shape[i]))) {
    throw shapeError('indexAdd', `needs a 1-D index and src shaped as the input with dim ${dim} of the index's length`, x.shape, index.shape, src.shape);
  }
  const out = accumulateInRuns(
    'indexAdd',
    x,
    d,
    index,
    0,
    src,
    { idxStr: x.shape.map(() => 0), idxK: index.rank === 1 ? index.strides[0] : 0, limit: [...x.shape], srcStr: [...src.strides], srcK: src.strides[d], K },
    true,
  );
  record('indexAdd', [x, src], [out], ([g], [idx]) => [g, indexSelect(g!, d, idx)], [index]);
  return out;
}

// ---------------------------------------------------------------- oneHot

/** [...indices.shape, numClasses] with 1 at each index (torch.nn.functional.one_hot, int by default). */
export function oneHot(indices: Tensor, numClasses: number, dtype: DType = 'i32'): Tensor {
  assertIndex('oneHot', indices);
  if (!Number.isInteger(numClasses) || numClasses <= 0) throw new TensorError('oneHot', `numClasses must be a positive integer, got ${numClasses}`);
  const outShape = [...indices.shape, numClasses];
  const out = Tensor.empty(outShape, dtype, 'oneHot');
  if (numel(outShape) === 0) return out;
  // Runs of positions, each with its whole row of classes.
  for (const { views: [is, os] } of indexSlices('oneHot', indices.shape, [indices, out])) oneHotDispatch(is, os, numClasses);
  return out;
}

function oneHotDispatch(indices: ViewLike, out: ViewLike, numClasses: number): void {
  const n = numel(out.shape);
  const rank = indices.shape.length;
  const r = Math.max(rank, 1);
  const [bi, bo] = [indices, out].map((v) => bindView(v, 'oneHot'));
  const dtype = out.dtype;
  const u = new UniformLayout().field('n').field('C').field('shape', r).field('str', r).field('off').field('outOff');
  const code = () => `
@group(0) @binding(0) var<storage, read> idx: array<${indices.dtype}>;
@group(0) @binding(1) var<storage, read_write> out: array<${dtype}>;
${u.declare(2)}
${perElementMain(WG, u)}
  let p = gidx / ${u.at('C')};
  ${stridedOffset(u, 'io', 'p', rank, 'shape', 'str', 'off')}
  out[${u.at('outOff')} + gidx] = select(${dtype}(0), ${dtype}(1), u32(idx[io]) == gidx % ${u.at('C')});
}`;
  engine().dispatch({
    label: 'oneHot',
    key: `one_hot|${indices.dtype}|${dtype}|${rank}`,
    code,
    buffers: [bi.resource, bo.resource],
    uniforms: u.pack({ n, C: numClasses, shape: [...indices.shape], str: [...indices.strides], off: bi.offset, outOff: bo.offset }),
    workgroups: ceilDiv(n, WG),
  });
}

// ---------------------------------------------------------------- method sugar

declare module '../tensor.ts' {
  interface Tensor {
    gather(dim: number, index: Tensor): Tensor;
    scatterAdd(dim: number, index: Tensor, src: Tensor): Tensor;
    indexSelect(dim: number, index: Tensor): Tensor;
    indexAdd(dim: number, index: Tensor, src: Tensor): Tensor;
  }
}

Tensor.prototype.gather = function (dim, index) {
  return gather(this, dim, index);
};
Tensor.prototype.scatterAdd = function (dim, index, src) {
  return scatterAdd(this, dim, index, src);
};
Tensor.prototype.indexSelect = function (dim, index) {
  return indexSelect(this, dim, index);
};
Tensor.prototype.indexAdd = function (dim, index, src) {
  return indexAdd(this, dim, index, src);
};
