import { record } from '../autograd/graph.ts';
import { shapeError, TensorError } from '../errors.ts';
import { bindView, type ViewLike } from '../kernels/binding.ts';
import { indexSlices } from '../kernels/slices.ts';
import { ceilDiv, f32Bits, perElementMain, UniformLayout } from '../kernels/uniforms.ts';
import { engine } from '../runtime/engine.ts';
import { contiguousStrides, normalizeAxis, numel, type Shape } from '../shape.ts';
import { assertTensor, Tensor } from '../tensor.ts';
import { zeros } from './creation.ts';
import { sum } from './reduce.ts';
import { expand, reshape, slice, type SliceSpec, squeeze, unsqueeze, writeStrided } from './view.ts';

/**
 * Shape ops that move data: concat, split, stack, flip, pad, repeat. Inputs are read in place through their
 * strides; every backward rule is written with other ops (slices, concat, sums), so it is itself differentiable.
 */

function axisOf(op: string, dim: number, rank: number, shape: Shape): number {
  const d = normalizeAxis(dim, rank);
  if (d < 0) throw shapeError(op, `dim ${dim} out of range for rank ${rank}`, shape);
  return d;
}

/** A view of x along `dim` from `start` (length `len`), without autograd: callers record their own rule. */
function rawSlice(x: Tensor, dim: number, start: number, len: number, op: string): Tensor {
  const shape = [...x.shape];
  shape[dim] = len;
  return x.view(shape, x.strides, x.offset + start * x.strides[dim], op);
}

/** `len` entries of x along `dim` from `start`: a differentiable view (torch.narrow). */
export function narrow(x: Tensor, dim: number, start: number, len: number): Tensor {
  assertTensor('narrow', x);
  const d = axisOf('narrow', dim, x.rank, x.shape);
  if (!Number.isInteger(start) || !Number.isInteger(len) || start < 0 || len < 0 || start + len > x.shape[d]) {
    throw shapeError('narrow', `range ${start}..${start + len} out of bounds for dim ${dim}`, x.shape);
  }
  return slice(x, x.shape.map((_, i): SliceSpec => (i === d ? [start, start + len] : null)));
}

// ---------------------------------------------------------------- concat / split

/** Joins tensors along an existing dimension (torch.cat). One strided copy per input, read in place. */
export function concat(tensors: readonly Tensor[], dim = 0): Tensor {
  if (!tensors || tensors.length === 0) throw new TensorError('concat', 'needs at least one tensor');
  tensors.forEach((t, i) => assertTensor('concat', t, `tensors[${i}]`));
  const first = tensors[0];
  const d = axisOf('concat', dim, first.rank, first.shape);
  const shapes = tensors.map((t) => t.shape);
  for (const t of tensors) {
    if (t.dtype !== first.dtype) throw new TensorError('concat', `dtypes differ: ${tensors.map((u) => u.dtype).join(', ')}`);
    if (t.rank !== first.rank || t.shape.some((s, i) => i !== d && s !== first.shape[i])) {
      throw shapeError('concat', `shapes must match except along dim ${dim}`, ...shapes);
    }
  }
  const outShape = [...first.shape];
  outShape[d] = tensors.reduce((a, t) => a + t.shape[d], 0);
  const out = Tensor.empty(outShape, first.dtype, 'concat');
  const strides = contiguousStrides(outShape);
  let start = 0;
  const starts: number[] = [];
  for (const t of tensors) {
    starts.push(start);
    writeStrided(out, t.shape, strides, start * strides[d], t);
    start += t.shape[d];
  }
  // Each input's gradient is its slab of g: a view, no copy (and differentiable, for higher-order grads).
  record('concat', tensors, [out], ([g]) => tensors.map((t, i) => narrow(g!, d, starts[i], t.shape[d])));
  return out;
}

export const cat = concat;

/**
 * Splits x along `dim` into views (torch.split): `sizes` is a list of section lengths summing to the dimension,
 * or one section length (the last section may be shorter). The outputs share x's storage.
 */
export function split(x: Tensor, sizes: number | readonly number[], dim = 0): Tensor[] {
  assertTensor('split', x);
  const d = axisOf('split', dim, x.rank, x.shape);
  const n = x.shape[d];
  let lens: number[];
  if (typeof sizes === 'number') {
    if (!Number.isInteger(sizes) || sizes <= 0) throw new TensorError('split', `section size must be a positive integer, got ${sizes}`);
    lens = [];
    for (let s = 0; s < n; s += sizes) lens.push(Math.min(sizes, n - s));
    if (lens.length === 0) lens.push(0);
  } else {
    lens = [...sizes];
    if (lens.some((s) => !Number.isInteger(s) || s < 0) || lens.reduce((a, b) => a + b, 0) !== n) {
      throw shapeError('split', `sizes [${lens.join(', ')}] do not sum to dimension ${dim} (${n})`, x.shape);
    }
  }
  const starts: number[] = [];
  let s = 0;
  const outs = lens.map((len) => {
    starts.push(s);
    s += len;
    return rawSlice(x, d, s - len, len, 'split');
  });
  const inShape = x.shape;
  const dtype = x.dtype;
  // One node for all pieces: the gradient is the concat of the pieces' gradients, zeros where a piece had none.
  record('split', [x], outs, (grads) => {
    const filled = grads.map((g, i) => g ?? zeros(inShape.map((v, k) => (k === d ? lens[i] : v)), dtype));
    const gx = concat(filled, d);
    filled.forEach((f, i) => f !== grads[i] && f.dispose());
    return [gx];
  });
  return outs;
}

/** `chunks` pieces of size ceil(n / chunks) along dim, the last possibly smaller (torch.chunk). */
export function chunk(x: Tensor, chunks: number, dim = 0): Tensor[] {
  assertTensor('chunk', x);
  if (!Number.isInteger(chunks) || chunks <= 0) throw new TensorError('chunk', `chunks must be a positive integer, got ${chunks}`);
  const d = axisOf('chunk', dim, x.rank, x.shape);
  return split(x, Math.max(1, Math.ceil(x.shape[d] / chunks)), d);
}

/**
 * The slices of x along `dim`, that dimension removed (torch.unbind): views, with one backward node for all of
 * them, so their gradients are joined by one concat (q, k, v = unbind(qkv): no zeros and no sums of slice
 * gradients).
 */
export function unbind(x: Tensor, dim = 0): Tensor[] {
  assertTensor('unbind', x);
  const d = axisOf('unbind', dim, x.rank, x.shape);
  return split(x, 1, d).map((piece) => {
    const view = squeeze(piece, d);
    piece.dispose();
    return view;
  });
}

/** Joins same-shaped tensors along a new dimension (torch.stack). */
export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  if (!tensors || tensors.length === 0) throw new TensorError('stack', 'needs at least one tensor');
  tensors.forEach((t, i) => assertTensor('stack', t, `tensors[${i}]`));
  const first = tensors[0];
  if (tensors.some((t) => t.rank !== first.rank || t.shape.some((s, i) => s !== first.shape[i]))) {
    throw shapeError('stack', 'all tensors must have the same shape', ...tensors.map((t) => t.shape));
  }
  const d = axisOf('stack', dim, first.rank + 1, first.shape);
  const views = tensors.map((t) => unsqueeze(t, d));
  const out = concat(views, d);
  for (const v of views) v.dispose();
  return out;
}

// ---------------------------------------------------------------- flip

/** Reverses the order along `dims` into a fresh tensor (torch.flip). */
export function flip(x: Tensor, dims: number | readonly number[]): Tensor {
  assertTensor('flip', x);
  const list = typeof dims === 'number' ? [dims] : [...dims];
  const ds = list.map((a) => axisOf('flip', a, x.rank, x.shape));
  if (new Set(ds).size !== ds.length) throw shapeError('flip', `dims [${list.join(', ')}] repeat`, x.shape);
  const out = Tensor.empty(x.shape, x.dtype, 'flip');
  // Write x through a reversed view of out: negative strides are exact in the kernel's wrapping u32 arithmetic.
  const strides = contiguousStrides(x.shape);
  let offset = 0;
  for (const d of ds) {
    if (x.shape[d] > 0) offset += (x.shape[d] - 1) * strides[d];
    strides[d] = -strides[d];
  }
  writeStrided(out, x.shape, strides, offset, x);
  record('flip', [x], [out], ([g]) => [flip(g!, ds)]);
  return out;
}

// ---------------------------------------------------------------- pad

export type PadMode = 'constant' | 'replicate';

const WG = 256;

/**
 * Pads the trailing dimensions (torch.nn.functional.pad): `pads` = [left, right] for the last dim, then
 * [top, bottom] for the one before, and so on. 'constant' fills with `value`; 'replicate' repeats the edge,
 * also when a pad is wider than the input.
 */
export function pad(x: Tensor, pads: readonly number[], mode: PadMode = 'constant', value = 0): Tensor {
  assertTensor('pad', x);
  if (mode !== 'constant' && mode !== 'replicate') throw new TensorError('pad', `unknown mode '${mode}'`);
  if (pads.length % 2 !== 0 || pads.length / 2 > x.rank) {
    throw shapeError('pad', `needs pairs for at most ${x.rank} dims, got [${pads.join(', ')}]`, x.shape);
  }
  if (pads.some((p) => !Number.isInteger(p) || p < 0)) throw shapeError('pad', `pads must be non-negative integers, got [${pads.join(', ')}]`, x.shape);
  const before = x.shape.map(() => 0);
  const after = x.shape.map(() => 0);
  for (let k = 0; k < pads.length / 2; k++) {
    before[x.rank - 1 - k] = pads[2 * k];
    after[x.rank - 1 - k] = pads[2 * k + 1];
  }
  if (mode === 'replicate' && x.shape.some((s, d) => s === 0 && before[d] + after[d] > 0)) {
    throw shapeError('pad', 'replicate padding needs a non-empty dimension to copy', x.shape);
  }
  const outShape = x.shape.map((s, d) => s + before[d] + after[d]);
  const out = padKernel(x, outShape, before, mode, value);
  const inShape = x.shape;
  record('pad', [x], [out], ([g]) => [mode === 'constant' ? padCrop(g!, inShape, before) : replicateGrad(g!, inShape, before, after)]);
  return out;
}

function padKernel(x: Tensor, outShape: number[], before: number[], mode: PadMode, value: number): Tensor {
  const out = Tensor.empty(outShape, x.dtype, 'pad');
  if (numel(outShape) === 0) return out;
  // Dims before the first padded one map input to output one to one: runs of them, the rest kept whole.
  const lead = before.findIndex((b, d) => b > 0 || outShape[d] !== x.shape[d]);
  const shared = x.shape.slice(0, lead < 0 ? x.rank : lead);
  for (const { views: [xs, os] } of indexSlices('pad', shared, [x, out])) padDispatch(xs, os, before.slice(x.rank - xs.shape.length), mode, value);
  return out;
}

/** One dispatch: out (a contiguous view) = x padded by `before` and to out's shape. */
function padDispatch(x: ViewLike, out: ViewLike, before: number[], mode: PadMode, value: number): void {
  const outShape = out.shape;
  const n = numel(outShape);
  const r = Math.max(x.shape.length, 1);
  const bx = bindView(x, 'pad');
  const bo = bindView(out, 'pad');
  const u = new UniformLayout().field('n').field('outShape', r).field('before', r).field('inShape', r).field('inStr', r).field('off').field('value');
  u.field('outOff');
  const T = x.dtype;
  const lines: string[] = [];
  for (let d = x.shape.length - 1; d >= 0; d--) {
    lines.push(`{ let c = i32(rem % ${u.at('outShape', d)}) - i32(${u.at('before', d)}); rem = rem / ${u.at('outShape', d)};`);
    lines.push(`  let size = i32(${u.at('inShape', d)});`);
    lines.push(mode === 'replicate' ? '  let k = clamp(c, 0, size - 1);' : '  inside = inside && c >= 0 && c < size; let k = clamp(c, 0, max(size - 1, 0));');
    lines.push(`  src += u32(k) * ${u.at('inStr', d)}; }`);
  }
  const o = `out[${u.at('outOff')} + gidx]`;
  const code = () => `
@group(0) @binding(0) var<storage, read> x: array<${T}>;
@group(0) @binding(1) var<storage, read_write> out: array<${T}>;
${u.declare(2)}
${perElementMain(WG, u)}
  var rem = gidx;
  var src = ${u.at('off')};
  var inside = true;
  ${lines.join('\n  ')}
  ${mode === 'replicate' ? `${o} = x[src];` : `if (inside) { ${o} = x[src]; } else { ${o} = bitcast<${T}>(${u.at('value')}); }`}
}`;
  engine().dispatch({
    label: 'pad',
    key: `pad|${T}|${x.shape.length}|${mode}`,
    code,
    buffers: [bx.resource, bo.resource],
    uniforms: u.pack({
      n,
      outShape: [...outShape],
      before,
      inShape: [...x.shape],
      inStr: [...x.strides],
      off: bx.offset,
      value: T === 'f32' ? f32Bits(value) : value,
      outOff: bo.offset,
    }),
    workgroups: ceilDiv(n, WG),
  });
}

/** The interior of a padded gradient: a view. */
function padCrop(g: Tensor, inShape: Shape, before: number[]): Tensor {
  return slice(g, inShape.map((s, d): SliceSpec => [before[d], before[d] + s]));
}

/**
 * Replicate padding's gradient, one padded dim at a time: every output row left of (or at) the first input
 * row sums into it, likewise on the right, and the interior passes through.
 */
function replicateGrad(g: Tensor, inShape: Shape, before: number[], after: number[]): Tensor {
  let cur = g;
  for (let d = 0; d < inShape.length; d++) {
    if (before[d] === 0 && after[d] === 0) continue;
    const n = inShape[d];
    const total = cur.shape[d];
    const parts: Tensor[] = [];
    const sumRange = (start: number, stop: number) => {
      const v = narrow(cur, d, start, stop - start);
      parts.push(sum(v, d, true));
      v.dispose();
    };
    if (n === 1) sumRange(0, total);
    else {
      sumRange(0, before[d] + 1);
      if (n > 2) parts.push(narrow(cur, d, before[d] + 1, n - 2));
      sumRange(before[d] + n - 1, total);
    }
    const next = concat(parts, d);
    for (const p of parts) p.dispose();
    if (cur !== g) cur.dispose();
    cur = next;
  }
  return cur;
}

// ---------------------------------------------------------------- repeat / tile

/** Tiles x `reps[i]` times along each dim (torch.Tensor.repeat); extra leading reps add dimensions. */
export function repeat(x: Tensor, reps: readonly number[]): Tensor {
  assertTensor('repeat', x);
  if (reps.length < x.rank || reps.some((r) => !Number.isInteger(r) || r < 0)) {
    throw shapeError('repeat', `needs at least ${x.rank} non-negative integer reps, got [${reps.join(', ')}]`, x.shape);
  }
  // View x as [1, s0, 1, s1, ...], broadcast the 1s to the reps, and materialize once (reshape copies).
  const lead = reps.length - x.rank;
  const shape = reps.map((_, i) => (i < lead ? 1 : x.shape[i - lead]));
  const inter: number[] = [];
  const strides: number[] = [];
  const xs = [...new Array<number>(lead).fill(0), ...x.strides];
  shape.forEach((s, i) => {
    inter.push(reps[i], s);
    strides.push(0, xs[i]);
  });
  const grid = x.view(shape.flatMap((s) => [1, s]), strides, x.offset, 'repeat');
  const inShape = x.shape;
  record('repeat', [x], [grid], ([g]) => [reshape(g!, inShape)]);
  const big = expand(grid, inter);
  const out = reshape(big, shape.map((s, i) => s * reps[i]));
  grid.dispose();
  big.dispose();
  return out;
}

/** numpy.tile: reps shorter than the rank are padded with leading 1s. */
export function tile(x: Tensor, reps: readonly number[]): Tensor {
  assertTensor('tile', x);
  const full = reps.length < x.rank ? [...new Array<number>(x.rank - reps.length).fill(1), ...reps] : reps;
  return repeat(x, full);
}

// ---------------------------------------------------------------- method sugar

declare module '../tensor.ts' {
  interface Tensor {
    narrow(dim: number, start: number, length: number): Tensor;
    split(sizes: number | readonly number[], dim?: number): Tensor[];
    chunk(chunks: number, dim?: number): Tensor[];
    unbind(dim?: number): Tensor[];
    flip(dims: number | readonly number[]): Tensor;
    pad(pads: readonly number[], mode?: PadMode, value?: number): Tensor;
    repeat(reps: readonly number[]): Tensor;
    tile(reps: readonly number[]): Tensor;
  }
}

const P = Tensor.prototype;
P.narrow = function (dim, start, length) {
  return narrow(this, dim, start, length);
};
P.split = function (sizes, dim) {
  return split(this, sizes, dim);
};
P.chunk = function (chunks, dim) {
  return chunk(this, chunks, dim);
};
P.unbind = function (dim) {
  return unbind(this, dim);
};
P.flip = function (dims) {
  return flip(this, dims);
};
P.pad = function (pads, mode, value) {
  return pad(this, pads, mode, value);
};
P.repeat = function (reps) {
  return repeat(this, reps);
};
P.tile = function (reps) {
  return tile(this, reps);
};
