import { needsGrad, record } from '../autograd/graph.ts';
import { shapeError, TensorError } from '../errors.ts';
import { bindView, type ViewLike } from '../kernels/binding.ts';
import { indexSlices, padRank } from '../kernels/slices.ts';
import { ceilDiv, perElementMain, UniformLayout } from '../kernels/uniforms.ts';
import { engine } from '../runtime/engine.ts';
import { numel } from '../shape.ts';
import { assertTensor, Tensor } from '../tensor.ts';

/**
 * 2-D max and average pooling over NCHW tensors, adaptive (PyTorch's bins: [floor(o·in/out), ceil((o+1)·in/out)))
 * or with a fixed kernel, stride and zero padding. Backward gathers: each input pixel scans the few windows
 * that can contain it, so gradients are summed in a fixed order without atomics.
 */
type Kind = 'max' | 'avg';

/** One axis of the pooling windows. */
interface Axis {
  inSize: number;
  outSize: number;
  adaptive: boolean;
  k: number;
  s: number;
  p: number;
}

interface Plan {
  op: string;
  kind: Kind;
  /** Storage of the input, the values and the gradients (arithmetic is f32 either way). */
  dtype: 'f32' | 'f16';
  h: Axis;
  w: Axis;
  countIncludePad: boolean;
}

export interface PoolOptions {
  kernelSize: number | readonly [number, number];
  /** Defaults to kernelSize. */
  stride?: number | readonly [number, number];
  padding?: number | readonly [number, number];
  /** Average pooling divides by the window size including padding (PyTorch's default). */
  countIncludePad?: boolean;
}

const WG = 256;

function pair(v: number | readonly number[]): [number, number] {
  return typeof v === 'number' ? [v, v] : [v[0], v[1]];
}

function checkInput(op: string, x: Tensor): void {
  assertTensor(op, x);
  if (x.rank !== 4) throw shapeError(op, `needs an NCHW tensor (rank 4), got rank ${x.rank}`, x.shape);
  if (x.dtype !== 'f32' && x.dtype !== 'f16') throw shapeError(op, `needs f32 or f16, got ${x.dtype}`, x.shape);
  if (x.shape[2] < 1 || x.shape[3] < 1) throw shapeError(op, 'cannot pool an empty image', x.shape);
}

function storage(x: Tensor): 'f32' | 'f16' {
  return x.dtype === 'f16' ? 'f16' : 'f32';
}

function adaptivePlan(op: string, kind: Kind, x: Tensor, outputSize: number | readonly [number, number]): Plan {
  checkInput(op, x);
  const out = pair(outputSize);
  if (!out.every((s) => Number.isInteger(s) && s > 0)) throw shapeError(op, `output size must be positive integers, got [${out.join(', ')}]`, x.shape);
  const axis = (inSize: number, outSize: number): Axis => ({ inSize, outSize, adaptive: true, k: 0, s: 0, p: 0 });
  return { op, kind, dtype: storage(x), h: axis(x.shape[2], out[0]), w: axis(x.shape[3], out[1]), countIncludePad: false };
}

function windowPlan(op: string, kind: Kind, x: Tensor, o: PoolOptions): Plan {
  checkInput(op, x);
  const k = pair(o.kernelSize);
  const s = pair(o.stride ?? o.kernelSize);
  const p = pair(o.padding ?? 0);
  const bad = (v: number[], min: number) => !v.every((e) => Number.isInteger(e) && e >= min);
  if (bad(k, 1) || bad(s, 1) || bad(p, 0)) {
    throw shapeError(op, `kernel [${k}] and stride [${s}] must be positive integers, padding [${p}] non-negative`, x.shape);
  }
  if (p[0] * 2 > k[0] || p[1] * 2 > k[1]) throw shapeError(op, `padding [${p}] must be at most half the kernel [${k}]`, x.shape);
  const axis = (d: 0 | 1): Axis => {
    const inSize = x.shape[2 + d];
    const outSize = Math.floor((inSize + 2 * p[d] - k[d]) / s[d]) + 1;
    if (outSize < 1) throw shapeError(op, `kernel [${k}] with padding [${p}] is larger than the input`, x.shape);
    return { inSize, outSize, adaptive: false, k: k[d], s: s[d], p: p[d] };
  };
  return { op, kind, dtype: storage(x), h: axis(0), w: axis(1), countIncludePad: o.countIncludePad ?? true };
}

const AXIS_FIELDS = ['in', 'out', 'ad', 'k', 's', 'p'] as const;

function layout(): UniformLayout {
  const u = new UniformLayout().field('n').field('shape', 4).field('str', 4).field('off');
  for (const a of ['h', 'w']) for (const f of AXIS_FIELDS) u.field(`${a}_${f}`);
  return u;
}

function axisValues(p: Plan): Record<string, number> {
  const v: Record<string, number> = {};
  for (const [a, ax] of [['h', p.h], ['w', p.w]] as const) {
    Object.assign(v, { [`${a}_in`]: ax.inSize, [`${a}_out`]: ax.outSize, [`${a}_ad`]: ax.adaptive ? 1 : 0, [`${a}_k`]: ax.k, [`${a}_s`]: ax.s, [`${a}_p`]: ax.p });
  }
  return v;
}

/** WGSL: window o of an axis as (start, end) clipped to the input, and the divisor extent. */
function windowFn(u: UniformLayout, a: 'h' | 'w', countIncludePad: boolean): string {
  const f = (name: string) => `i32(${u.at(`${a}_${name}`)})`;
  return `fn win_${a}(o: i32) -> vec3<i32> {
  let n_in = ${f('in')};
  if (${u.at(`${a}_ad`)} == 1u) {
    let n_out = ${f('out')};
    let st = (o * n_in) / n_out;
    let en = ((o + 1) * n_in + n_out - 1) / n_out;
    return vec3<i32>(st, en, en - st);
  }
  let st = o * ${f('s')} - ${f('p')};
  let en = min(st + ${f('k')}, n_in + ${f('p')});
  let a = max(st, 0);
  let b = min(en, n_in);
  return vec3<i32>(a, b, ${countIncludePad ? 'en - st' : 'b - a'});
}
/** The outputs whose windows can hold input i (a superset; callers test containment). */
fn cand_${a}(i: i32) -> vec2<i32> {
  let n_in = ${f('in')};
  let n_out = ${f('out')};
  if (${u.at(`${a}_ad`)} == 1u) {
    return vec2<i32>(max((i * n_out) / n_in - 1, 0), min(((i + 1) * n_out + n_in - 1) / n_in, n_out - 1));
  }
  let num = i + ${f('p')} - ${f('k')} + 1;
  let lo = select(0, (num + ${f('s')} - 1) / ${f('s')}, num > 0);
  return vec2<i32>(lo, min((i + ${f('p')}) / ${f('s')}, n_out - 1));
}`;
}

const DECOMPOSE = (u: UniformLayout) => `let i3 = gidx % ${u.at('shape', 3)};
  var r = gidx / ${u.at('shape', 3)};
  let i2 = r % ${u.at('shape', 2)};
  r = r / ${u.at('shape', 2)};
  let i1 = r % ${u.at('shape', 1)};
  let i0 = r / ${u.at('shape', 1)};`;

function forward(x: Tensor, p: Plan): { values: Tensor; indices: Tensor | null } {
  const [N, C] = x.shape;
  const outShape = [N, C, p.h.outSize, p.w.outSize];
  const values = Tensor.empty(outShape, p.dtype, p.op);
  const indices = p.kind === 'max' ? Tensor.empty(outShape, 'i32', p.op) : null;
  if (numel(outShape) === 0) return { values, indices };
  // Planes are independent: runs of them that fit a binding (one run, the tensors themselves, when all fit).
  for (const { views } of indexSlices(p.op, [N, C], [x, values, ...(indices ? [indices] : [])])) {
    const [xs, vs, is] = views.map((v) => padRank(v, 4));
    forwardKernel(xs, vs, is ?? null, p);
  }
  return { values, indices };
}

/** One dispatch over a run of planes: x a view, values and indices contiguous views of the same planes. */
function forwardKernel(x: ViewLike, values: ViewLike, indices: ViewLike | null, p: Plan): void {
  const outShape = values.shape;
  const n = numel(outShape);
  const bx = bindView(x, p.op);
  const bv = bindView(values, p.op);
  const bi = indices && bindView(indices, p.op);
  const u = layout().field('outOff').field('idxOff');
  const isMax = p.kind === 'max';
  // The WGSL depends on the kind and the padding rule only (sizes travel in uniforms).
  const key = `pool|${p.kind}|${p.countIncludePad ? 1 : 0}|${p.dtype}`;
  const code = () => `${windowFn(u, 'h', p.countIncludePad)}
${windowFn(u, 'w', p.countIncludePad)}
@group(0) @binding(0) var<storage, read> x: array<${p.dtype}>;
@group(0) @binding(1) var<storage, read_write> vals: array<${p.dtype}>;
${isMax ? '@group(0) @binding(2) var<storage, read_write> idxs: array<i32>;' : ''}
${u.declare(isMax ? 3 : 2)}
${perElementMain(WG, u)}
  ${DECOMPOSE(u)}
  let base = ${u.at('off')} + i0 * ${u.at('str', 0)} + i1 * ${u.at('str', 1)};
  let wh = win_h(i32(i2));
  let ww = win_w(i32(i3));
  let W = i32(${u.at('w_in')});
  ${isMax ? 'var best = 0.0;\n  var arg = -1;' : 'var acc = 0.0;'}
  for (var h = wh.x; h < wh.y; h++) {
    for (var w = ww.x; w < ww.y; w++) {
      let v = f32(x[base + u32(h) * ${u.at('str', 2)} + u32(w) * ${u.at('str', 3)}]);
      ${isMax ? '// As PyTorch: ties keep the first index, a NaN wins.\n      if (arg < 0 || v > best || v != v) { best = v; arg = h * W + w; }' : 'acc += v;'}
    }
  }
  ${isMax ? `vals[${u.at('outOff')} + gidx] = ${p.dtype}(best);\n  idxs[${u.at('idxOff')} + gidx] = arg;` : `vals[${u.at('outOff')} + gidx] = ${p.dtype}(acc / f32(wh.z * ww.z));`}
}`;
  engine().dispatch({
    label: p.op,
    key,
    code,
    buffers: [bx.resource, bv.resource, ...(bi ? [bi.resource] : [])],
    uniforms: u.pack({ n, shape: [...outShape], str: [...x.strides], off: bx.offset, outOff: bv.offset, idxOff: bi?.offset ?? 0, ...axisValues(p) }),
    workgroups: ceilDiv(n, WG),
  });
}

function backward(g: Tensor, indices: Tensor | null, p: Plan): Tensor {
  if (needsGrad([g])) throw new TensorError(p.op, 'the backward is not differentiable (createGraph through pooling is unsupported)');
  const [N, C] = g.shape;
  const inShape = [N, C, p.h.inSize, p.w.inSize];
  const gx = Tensor.empty(inShape, p.dtype, `${p.op}_backward`);
  if (numel(inShape) === 0) return gx;
  for (const { views } of indexSlices(`${p.op}_backward`, [N, C], [g, gx, ...(indices ? [indices] : [])])) {
    const [gs, gxs, is] = views.map((v) => padRank(v, 4));
    backwardKernel(gs, is ?? null, gxs, p);
  }
  return gx;
}

/** One dispatch over a run of planes: g a view, indices and gx contiguous views of the same planes. */
function backwardKernel(g: ViewLike, indices: ViewLike | null, gx: ViewLike, p: Plan): void {
  const inShape = gx.shape;
  const n = numel(inShape);
  const label = `${p.op}_backward`;
  const bg = bindView(g, label);
  const bi = indices && bindView(indices, label);
  const bx = bindView(gx, label);
  const u = layout().field('iOff').field('outOff');
  const isMax = p.kind === 'max';
  const key = `pool_backward|${p.kind}|${p.countIncludePad ? 1 : 0}|${p.dtype}`;
  const code = () => `${windowFn(u, 'h', p.countIncludePad)}
${windowFn(u, 'w', p.countIncludePad)}
@group(0) @binding(0) var<storage, read> g: array<${p.dtype}>;
${isMax ? '@group(0) @binding(1) var<storage, read> idxs: array<i32>;' : ''}
@group(0) @binding(${isMax ? 2 : 1}) var<storage, read_write> gx: array<${p.dtype}>;
${u.declare(isMax ? 3 : 2)}
${perElementMain(WG, u)}
  ${DECOMPOSE(u)}
  let ih = i32(i2);
  let iw = i32(i3);
  let oH = ${u.at('h_out')};
  let oW = ${u.at('w_out')};
  let me = ih * i32(${u.at('w_in')}) + iw;
  let plane = ${u.at('iOff')} + (i0 * ${u.at('shape', 1)} + i1) * oH * oW;
  let gbase = ${u.at('off')} + i0 * ${u.at('str', 0)} + i1 * ${u.at('str', 1)};
  let ch = cand_h(ih);
  let cw = cand_w(iw);
  var acc = 0.0;
  for (var oh = ch.x; oh <= ch.y; oh++) {
    let wh = win_h(oh);
    if (ih < wh.x || ih >= wh.y) { continue; }
    for (var ow = cw.x; ow <= cw.y; ow++) {
      let ww = win_w(ow);
      if (iw < ww.x || iw >= ww.y) { continue; }
      let gv = f32(g[gbase + u32(oh) * ${u.at('str', 2)} + u32(ow) * ${u.at('str', 3)}]);
      ${isMax ? 'if (idxs[plane + u32(oh) * oW + u32(ow)] == me) { acc += gv; }' : 'acc += gv / f32(wh.z * ww.z);'}
    }
  }
  gx[${u.at('outOff')} + gidx] = ${p.dtype}(acc);
}`;
  engine().dispatch({
    label,
    key,
    code,
    buffers: [bg.resource, ...(bi ? [bi.resource] : []), bx.resource],
    uniforms: u.pack({ n, shape: [...inShape], str: [...g.strides], off: bg.offset, iOff: bi?.offset ?? 0, outOff: bx.offset, ...axisValues(p) }),
    workgroups: ceilDiv(n, WG),
  });
}

function pool(x: Tensor, p: Plan): { values: Tensor; indices: Tensor | null } {
  const { values, indices } = forward(x, p);
  record(p.op, [x], [values], ([g], saved) => [backward(g!, saved[0] ?? null, p)], indices ? [indices] : []);
  return { values, indices };
}

/** Max over PyTorch's adaptive bins, with the flat index (h·W + w) of each maximum; the gradient goes there. */
export function adaptiveMaxPool2dWithIndices(x: Tensor, outputSize: number | readonly [number, number]): { values: Tensor; indices: Tensor } {
  const r = pool(x, adaptivePlan('adaptive_max_pool2d', 'max', x, outputSize));
  return { values: r.values, indices: r.indices! };
}

/** Adaptive max pooling; outputSize 1 is the global max pool of SeCo's classifier. */
export function adaptiveMaxPool2d(x: Tensor, outputSize: number | readonly [number, number]): Tensor {
  const { values, indices } = adaptiveMaxPool2dWithIndices(x, outputSize);
  indices.dispose();
  return values;
}

export function adaptiveAvgPool2d(x: Tensor, outputSize: number | readonly [number, number]): Tensor {
  return pool(x, adaptivePlan('adaptive_avg_pool2d', 'avg', x, outputSize)).values;
}

export function maxPool2d(x: Tensor, options: PoolOptions): Tensor {
  const { values, indices } = pool(x, windowPlan('max_pool2d', 'max', x, options));
  indices!.dispose();
  return values;
}

export function avgPool2d(x: Tensor, options: PoolOptions): Tensor {
  return pool(x, windowPlan('avg_pool2d', 'avg', x, options)).values;
}
