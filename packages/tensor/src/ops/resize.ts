import { record } from '../autograd/graph.ts';
import type { DType } from '../dtype.ts';
import { shapeError, TensorError } from '../errors.ts';
import { bindView, type ViewLike } from '../kernels/binding.ts';
import { indexSlices, padRank } from '../kernels/slices.ts';
import { ceilDiv, f32Bits, perElementMain, UniformLayout } from '../kernels/uniforms.ts';
import { engine } from '../runtime/engine.ts';
import { numel } from '../shape.ts';
import { assertTensor, Tensor } from '../tensor.ts';

/**
 * F.interpolate on NCHW tensors, following PyTorch's CPU kernels index for index (fixtures README §4).
 * Every mode is separable: out = Wy · x · Wxᵀ with a few taps per output row/column. The backward is
 * gx = Wyᵀ · g · Wx, computed in two gather passes (one per axis) so that each input pixel sums its own
 * contributions in a fixed order: deterministic, no atomics.
 */
export type InterpolateMode = 'nearest' | 'bilinear' | 'bicubic';

export interface InterpolateOptions {
  /** Output [H, W] (or one number for both). Give exactly one of size and scaleFactor. */
  size?: number | readonly [number, number];
  scaleFactor?: number | readonly [number, number];
  mode?: InterpolateMode;
  alignCorners?: boolean;
  /** Sample with in/out instead of 1/scaleFactor (PyTorch's recompute_scale_factor=True). */
  recomputeScaleFactor?: boolean;
}

/** One axis of the resize: sizes and the f32 sampling scale PyTorch's kernel would use. */
interface Axis {
  inSize: number;
  outSize: number;
  scale: number;
}

interface Plan {
  mode: InterpolateMode;
  alignCorners: boolean;
  h: Axis;
  w: Axis;
}

const WG = 256;
const TAPS: Record<InterpolateMode, number> = { nearest: 1, bilinear: 2, bicubic: 4 };

function pair(v: number | readonly number[]): [number, number] {
  return typeof v === 'number' ? [v, v] : [v[0], v[1]];
}

function plan(x: Tensor, o: InterpolateOptions): Plan {
  const op = 'interpolate';
  const mode = o.mode ?? 'nearest';
  if (!(mode in TAPS)) throw new TensorError(op, `unknown mode '${mode}' (nearest, bilinear, bicubic)`);
  if (x.rank !== 4) throw shapeError(op, `needs an NCHW tensor (rank 4), got rank ${x.rank}`, x.shape);
  if (mode !== 'nearest' && x.dtype !== 'f32' && x.dtype !== 'f16') throw shapeError(op, `${mode} needs f32 or f16, got ${x.dtype}`, x.shape);
  const alignCorners = o.alignCorners ?? false;
  if (alignCorners && mode === 'nearest') throw new TensorError(op, 'alignCorners only applies to bilinear and bicubic');
  if ((o.size === undefined) === (o.scaleFactor === undefined)) throw new TensorError(op, 'give exactly one of size and scaleFactor');
  const inH = x.shape[2];
  const inW = x.shape[3];
  let outH: number;
  let outW: number;
  let given: [number, number] | null = null;
  if (o.size !== undefined) {
    [outH, outW] = pair(o.size);
    if (![outH, outW].every((s) => Number.isInteger(s) && s > 0)) {
      throw shapeError(op, `size must be positive integers, got [${pair(o.size).join(', ')}]`, x.shape);
    }
  } else {
    const sf = pair(o.scaleFactor!);
    if (!sf.every((s) => Number.isFinite(s) && s > 0)) throw shapeError(op, `scaleFactor must be finite and > 0, got [${sf.join(', ')}]`, x.shape);
    outH = Math.floor(inH * sf[0]);
    outW = Math.floor(inW * sf[1]);
    if (outH < 1 || outW < 1) throw shapeError(op, `scaleFactor [${sf.join(', ')}] gives an empty output ${outH}x${outW}`, x.shape);
    if (!o.recomputeScaleFactor) given = sf;
  }
  if (inH < 1 || inW < 1) throw shapeError(op, 'cannot resize an empty image', x.shape);
  const axis = (inSize: number, outSize: number, sf: number | undefined): Axis => {
    let scale: number;
    if (alignCorners) scale = outSize > 1 ? (inSize - 1) / (outSize - 1) : 0;
    else scale = sf !== undefined ? 1 / sf : inSize / outSize;
    // PyTorch's shortcuts, which the general formula reproduces only with these exact scales.
    if (outSize === inSize && mode !== 'bicubic') scale = 1;
    if (mode === 'nearest' && outSize === 2 * inSize) scale = 0.5;
    return { inSize, outSize, scale: Math.fround(scale) };
  };
  return { mode, alignCorners, h: axis(inH, outH, given?.[0]), w: axis(inW, outW, given?.[1]) };
}

/** WGSL `taps(o, n_in, scale)`: the input indices and weights one output index reads along one axis. */
function tapsWgsl(mode: InterpolateMode, alignCorners: boolean): string {
  const K = TAPS[mode];
  const src = alignCorners ? 'scale * f32(o)' : 'scale * (f32(o) + 0.5) - 0.5';
  let body: string;
  if (mode === 'nearest') {
    body = `t.i[0] = min(i32(floor(f32(o) * scale)), n_in - 1); t.w[0] = 1.0;`;
  } else if (mode === 'bilinear') {
    body = `let src = max(${src}, 0.0);
  let i0 = min(i32(floor(src)), n_in - 1);
  let l1 = clamp(src - f32(i0), 0.0, 1.0);
  t.i[0] = i0; t.i[1] = i0 + select(0, 1, i0 < n_in - 1);
  t.w[0] = 1.0 - l1; t.w[1] = l1;`;
  } else {
    // Keys' cubic convolution, a = -0.75; the source index is not clamped, the taps are.
    body = `let src = ${src};
  let ix = min(i32(floor(src)), n_in - 1);
  let l = clamp(src - f32(ix), 0.0, 1.0);
  let A = -0.75;
  let x1 = l + 1.0;
  let x2 = 1.0 - l;
  let x3 = x2 + 1.0;
  t.w[0] = ((A * x1 - 5.0 * A) * x1 + 8.0 * A) * x1 - 4.0 * A;
  t.w[1] = ((A + 2.0) * l - (A + 3.0)) * l * l + 1.0;
  t.w[2] = ((A + 2.0) * x2 - (A + 3.0)) * x2 * x2 + 1.0;
  t.w[3] = ((A * x3 - 5.0 * A) * x3 + 8.0 * A) * x3 - 4.0 * A;
  for (var k = 0; k < 4; k++) { t.i[k] = clamp(ix - 1 + k, 0, n_in - 1); }`;
  }
  return `struct Taps { i: array<i32, ${K}>, w: array<f32, ${K}> };
fn taps(o: i32, n_in: i32, scale: f32) -> Taps {
  var t: Taps;
  ${body}
  return t;
}`;
}

function forward(x: Tensor, p: Plan): Tensor {
  const [N, C] = x.shape;
  const outShape = [N, C, p.h.outSize, p.w.outSize];
  const out = Tensor.empty(outShape, x.dtype, 'interpolate');
  if (numel(outShape) === 0) return out;
  // Planes are independent: runs of them that fit a binding (one run, the tensors themselves, when all fit).
  for (const { views } of indexSlices('interpolate', [N, C], [x, out])) {
    const [xs, os] = views.map((v) => padRank(v, 4));
    forwardKernel(xs, os, p);
  }
  return out;
}

/** One dispatch over a run of planes: x a view, out a contiguous view of the same planes. */
function forwardKernel(x: ViewLike, out: ViewLike, p: Plan): void {
  const outShape = out.shape;
  const n = numel(outShape);
  const bx = bindView(x, 'interpolate');
  const bo = bindView(out, 'interpolate');
  const K = TAPS[p.mode];
  const u = new UniformLayout().field('n').field('shape', 4).field('str', 4).field('off').field('inH').field('inW').field('sh').field('sw');
  u.field('outOff');
  const T: DType = x.dtype;
  const read = (hy: string, wx: string) => `x[base + u32(${hy}) * ${u.at('str', 2)} + u32(${wx}) * ${u.at('str', 3)}]`;
  // f16: taps are weighed in f32 and the result rounded once (nearest copies the half as it is).
  const wide = (v: string) => (T === 'f16' ? `f32(${v})` : v);
  const body =
    K === 1
      ? `out[${u.at('outOff')} + gidx] = ${read('ty.i[0]', 'tx.i[0]')};`
      : `var acc = 0.0;
  for (var k = 0; k < ${K}; k++) {
    var row = 0.0;
    for (var l = 0; l < ${K}; l++) { row += tx.w[l] * ${wide(read('ty.i[k]', 'tx.i[l]'))}; }
    acc += ty.w[k] * row;
  }
  out[${u.at('outOff')} + gidx] = ${T === 'f16' ? 'f16(acc)' : 'acc'};`;
  // Built only when the engine has no pipeline for the key (everything the WGSL depends on).
  const key = `interpolate|${p.mode}|${p.alignCorners ? 1 : 0}|${T}`;
  const code = () => `${tapsWgsl(p.mode, p.alignCorners)}
@group(0) @binding(0) var<storage, read> x: array<${T}>;
@group(0) @binding(1) var<storage, read_write> out: array<${T}>;
${u.declare(2)}
${perElementMain(WG, u)}
  let ow = gidx % ${u.at('shape', 3)};
  var r = gidx / ${u.at('shape', 3)};
  let oh = r % ${u.at('shape', 2)};
  r = r / ${u.at('shape', 2)};
  let c = r % ${u.at('shape', 1)};
  let b = r / ${u.at('shape', 1)};
  let base = ${u.at('off')} + b * ${u.at('str', 0)} + c * ${u.at('str', 1)};
  let ty = taps(i32(oh), i32(${u.at('inH')}), bitcast<f32>(${u.at('sh')}));
  let tx = taps(i32(ow), i32(${u.at('inW')}), bitcast<f32>(${u.at('sw')}));
  ${body}
}`;
  engine().dispatch({
    label: 'interpolate',
    key,
    code,
    buffers: [bx.resource, bo.resource],
    uniforms: u.pack({
      n,
      shape: [...outShape],
      str: [...x.strides],
      off: bx.offset,
      outOff: bo.offset,
      inH: p.h.inSize,
      inW: p.w.inSize,
      sh: f32Bits(p.h.scale),
      sw: f32Bits(p.w.scale),
    }),
    workgroups: ceilDiv(n, WG),
  });
}

/**
 * One backward pass along `axis` (2 = H, 3 = W): out[.., i, ..] = Σ_o W[o, i] · g[.., o, ..]. The outputs o
 * whose taps can reach input i form a short contiguous range (taps move monotonically with o); the kernel
 * scans that range with a margin and keeps the taps that actually hit i.
 */
function backwardPass(g: Tensor, p: Plan, axis: 2 | 3): Tensor {
  const a = axis === 2 ? p.h : p.w;
  const outShape = [...g.shape];
  outShape[axis] = a.inSize;
  const out = Tensor.empty(outShape, 'f32', 'interpolate_backward');
  if (numel(outShape) === 0) return out;
  for (const { views } of indexSlices('interpolate_backward', outShape.slice(0, 2), [g, out])) {
    const [gs, os] = views.map((v) => padRank(v, 4));
    backwardKernel(gs, os, p, axis);
  }
  return out;
}

/** One dispatch of a backward pass over a run of planes: g a view, out a contiguous view of the same planes. */
function backwardKernel(g: ViewLike, out: ViewLike, p: Plan, axis: 2 | 3): void {
  const a = axis === 2 ? p.h : p.w;
  const outShape = out.shape;
  const n = numel(outShape);
  const bg = bindView(g, 'interpolate_backward');
  const bo = bindView(out, 'interpolate_backward');
  const K = TAPS[p.mode];
  // Source positions in input units that can reach input i: [i - lo, i + hi].
  const [lo, hi] = p.mode === 'nearest' ? [0, 1] : p.mode === 'bilinear' ? [1, 1] : [2, 2];
  // Inverse of the source-index map: output index for a source position.
  const inv = p.mode === 'nearest' || p.alignCorners ? (s: string) => `(${s}) / scale` : (s: string) => `((${s}) + 0.5) / scale - 0.5`;
  const u = new UniformLayout().field('n').field('shape', 4).field('str', 4).field('off').field('nOut').field('scale').field('outOff');
  const decompose = [3, 2, 1].map((d) => `let i${d} = r % ${u.at('shape', d)}; r = r / ${u.at('shape', d)};`).join('\n  ');
  const baseExpr = [u.at('off'), ...[0, 1, 2, 3].filter((d) => d !== axis).map((d) => `${d === 0 ? 'r' : `i${d}`} * ${u.at('str', d)}`)].join(' + ');
  const key = `interpolate_backward|${p.mode}|${p.alignCorners ? 1 : 0}|${g.dtype}|${axis}`;
  const code = () => `${tapsWgsl(p.mode, p.alignCorners)}
@group(0) @binding(0) var<storage, read> g: array<${g.dtype}>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
${u.declare(2)}
${perElementMain(WG, u)}
  var r = gidx;
  ${decompose}
  let i = i32(i${axis});
  let base = ${baseExpr};
  let n_in = i32(${u.at('shape', axis)});
  let n_out = i32(${u.at('nOut')});
  let scale = bitcast<f32>(${u.at('scale')});
  var o0 = 0;
  var o1 = n_out - 1;
  if (scale > 0.0) {
    o0 = max(i32(floor(${inv(`f32(i) - ${lo}.0`)})) - 2, 0);
    o1 = min(i32(ceil(${inv(`f32(i) + ${hi}.0`)})) + 2, n_out - 1);
  }
  if (i == 0) { o0 = 0; }
  if (i == n_in - 1) { o1 = n_out - 1; }
  var acc = 0.0;
  for (var o = o0; o <= o1; o++) {
    let t = taps(o, n_in, scale);
    var w = 0.0;
    for (var k = 0; k < ${K}; k++) { if (t.i[k] == i) { w += t.w[k]; } }
    if (w != 0.0) { acc += w * f32(g[base + u32(o) * ${u.at('str', axis)}]); }
  }
  out[${u.at('outOff')} + gidx] = acc;
}`;
  engine().dispatch({
    label: 'interpolate_backward',
    key,
    code,
    buffers: [bg.resource, bo.resource],
    uniforms: u.pack({ n, shape: [...outShape], str: [...g.strides], off: bg.offset, nOut: a.outSize, scale: f32Bits(a.scale), outOff: bo.offset }),
    workgroups: ceilDiv(n, WG),
  });
}

function backward(g: Tensor, p: Plan): Tensor {
  const t = backwardPass(g, p, 3);
  const gx = backwardPass(t, p, 2);
  t.dispose();
  // The backward is linear in g, and its own adjoint is the forward: double backward comes for free.
  record('interpolate_backward', [g], [gx], ([gg]) => [forward(gg!, p)]);
  return gx;
}

/** Resizes the last two dimensions of an NCHW tensor as torch.nn.functional.interpolate. */
export function interpolate(x: Tensor, options: InterpolateOptions): Tensor {
  assertTensor('interpolate', x);
  const p = plan(x, options);
  const y = forward(x, p);
  if (x.dtype === 'f32' || x.dtype === 'f16') record('interpolate', [x], [y], ([g]) => [backward(g!, p)]);
  return y;
}
