import { needsGrad, record } from '../autograd/graph.ts';
import { shapeError, TensorError } from '../errors.ts';
import { bindView } from '../kernels/binding.ts';
import { runMap } from '../kernels/map.ts';
import { ceilDiv, perElementMain, stridedOffset, UniformLayout } from '../kernels/uniforms.ts';
import { memoKernel } from '../kernels/memo.ts';
import { engine } from '../runtime/engine.ts';
import { formatShape, numel, shapesEqual } from '../shape.ts';
import { assertTensor, Tensor } from '../tensor.ts';
import { cast, div, ne } from './elementwise.ts';
import { mean, sum } from './reduce.ts';
import { concat, narrow } from './shape.ts';
import { exceedsBinding, fitsDense, sliceSharedDims } from './slicing.ts';
import { contiguous } from './view.ts';
import { scope } from '../memory.ts';

/** Losses as PyTorch's functional forms: fused kernels forward and backward, reductions composed from ops. */
export type Reduction = 'none' | 'sum' | 'mean';

const WG = 256;

function checkReduction(op: string, r: string): void {
  if (r !== 'none' && r !== 'sum' && r !== 'mean') throw new TensorError(op, `reduction must be none, sum or mean, got '${r}'`);
}

function reduce(l: Tensor, reduction: Reduction): Tensor {
  if (reduction === 'none') return l;
  const r = reduction === 'sum' ? sum(l) : mean(l);
  l.dispose();
  return r;
}

function noDoubleBackward(op: string, ts: Tensor[]): void {
  if (needsGrad(ts)) throw new TensorError(op, 'the backward is not differentiable (createGraph through this loss is unsupported)');
}

// ---------------------------------------------------------------- cross entropy

export interface CrossEntropyOptions {
  /** Targets equal to this contribute 0 and are left out of the mean. Default 255, as SeCo's labels. */
  ignoreIndex?: number;
  reduction?: Reduction;
}

interface CeGeometry {
  C: number;
  /** The target's shape: logits without the class axis. */
  posShape: number[];
  /** Logits strides over posShape. */
  xPos: number[];
}

function ceGeometry(op: string, logits: Tensor, target: Tensor): CeGeometry {
  if (logits.dtype !== 'f32') throw shapeError(op, `logits must be f32, got ${logits.dtype}`, logits.shape);
  if (target.dtype === 'f32') throw shapeError(op, 'target must hold integer class indices (i32 or u32), got f32', target.shape);
  if (logits.rank < 2) throw shapeError(op, `logits must be (N, C) or (N, C, d1, ...), got rank ${logits.rank}`, logits.shape);
  const posShape = [logits.shape[0], ...logits.shape.slice(2)];
  if (!shapesEqual(target.shape, posShape)) {
    throw shapeError(op, `target must have shape ${formatShape(posShape)} for these logits`, logits.shape, target.shape);
  }
  if (logits.shape[1] < 1) throw shapeError(op, 'logits have no classes', logits.shape);
  return { C: logits.shape[1], posShape, xPos: [logits.strides[0], ...logits.strides.slice(2)] };
}

function ceLayout(rank: number): UniformLayout {
  return new UniformLayout()
    .field('n')
    .field('C')
    .field('S')
    .field('ignore')
    .field('cstr')
    .field('pshape', rank)
    .field('xstr', rank)
    .field('xoff')
    .field('tstr', rank)
    .field('toff')
    .field('gstr', rank)
    .field('goff')
    .field('nan');
}

/**
 * Per position: loss = (max − x[t]) + log Σ exp(x − max) (0 where ignored, NaN where t is not a class), and
 * (max, log Σ) for the backward. Kept apart, as PyTorch's log_softmax, so large logits lose no precision.
 */
function ceForward(logits: Tensor, target: Tensor, g: CeGeometry, ignore: number): { loss: Tensor; lse: Tensor } {
  const loss = Tensor.empty(g.posShape, 'f32', 'cross_entropy');
  const lse = Tensor.empty([...g.posShape, 2], 'f32', 'cross_entropy');
  const n = numel(g.posShape);
  if (n === 0) return { loss, lse };
  const R = g.posShape.length;
  const key = `ce_forward|${target.dtype}|${R}`;
  const { code, layout: u } = memoKernel(key, () => {
    const u = ceLayout(R);
    return { layout: u, code: `@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> tgt: array<${target.dtype}>;
@group(0) @binding(2) var<storage, read_write> loss: array<f32>;
@group(0) @binding(3) var<storage, read_write> lse: array<f32>;
${u.declare(4)}
${perElementMain(WG, u)}
  ${stridedOffset(u, 'xo', 'gidx', R, 'pshape', 'xstr', 'xoff')}
  ${stridedOffset(u, 'to', 'gidx', R, 'pshape', 'tstr', 'toff')}
  let C = ${u.at('C')};
  let cs = ${u.at('cstr')};
  // Online logsumexp: one pass over the classes.
  var m = -3.4028234e38;
  var s = 0.0;
  for (var c = 0u; c < C; c++) {
    let v = x[xo + c * cs];
    if (v > m) { s = s * exp(m - v) + 1.0; m = v; } else { s += exp(v - m); }
  }
  let ls = log(s);
  lse[2u * gidx] = m;
  lse[2u * gidx + 1u] = ls;
  let t = i32(tgt[to]);
  if (t == bitcast<i32>(${u.at('ignore')})) { loss[gidx] = 0.0; return; }
  if (t < 0 || t >= i32(C)) { loss[gidx] = bitcast<f32>(${u.at('nan')}); return; }
  loss[gidx] = (m - x[xo + u32(t) * cs]) + ls;
}` };
  });
  // Parts of a sliced loss are views of larger tensors: bound as windows of them (outputs are fresh and fit).
  const bx = bindView(logits, 'cross_entropy');
  const bt = bindView(target, 'cross_entropy');
  engine().dispatch({
    label: 'cross_entropy',
    key,
    code,
    buffers: [bx.resource, bt.resource, loss.buffer, lse.buffer],
    uniforms: u.pack({
      n,
      C: g.C,
      ignore: ignore,
      cstr: logits.strides[1],
      pshape: g.posShape,
      xstr: g.xPos,
      xoff: bx.offset,
      tstr: [...target.strides],
      toff: bt.offset,
      // NaN travels as data: WGSL rejects a NaN constant.
      nan: 0x7fc00000,
    }),
    workgroups: ceilDiv(n, WG),
  });
  return { loss, lse };
}

/** gx[n, c, ...] = g[n, ...] · (softmax − onehot(t)), 0 at ignored or invalid targets. A thread per logit. */
function ceBackward(gr: Tensor, logits: Tensor, target: Tensor, lse: Tensor, ignore: number): Tensor {
  noDoubleBackward('cross_entropy', [gr, logits]);
  const g = ceGeometry('cross_entropy', logits, target);
  const gx = Tensor.empty(logits.shape, 'f32', 'cross_entropy_backward');
  const n = numel(logits.shape);
  if (n === 0) return gx;
  const R = g.posShape.length;
  const S = numel(logits.shape.slice(2));
  const key = `ce_backward|${target.dtype}|${R}`;
  const { code, layout: u } = memoKernel(key, () => {
    const u = ceLayout(R);
    return { layout: u, code: `@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> tgt: array<${target.dtype}>;
@group(0) @binding(2) var<storage, read> lse: array<f32>;
@group(0) @binding(3) var<storage, read> gl: array<f32>;
@group(0) @binding(4) var<storage, read_write> gx: array<f32>;
${u.declare(5)}
${perElementMain(WG, u)}
  let S = ${u.at('S')};
  let C = ${u.at('C')};
  let c = (gidx / S) % C;
  let p = (gidx / (S * C)) * S + gidx % S;
  ${stridedOffset(u, 'to', 'p', R, 'pshape', 'tstr', 'toff')}
  let t = i32(tgt[to]);
  if (t == bitcast<i32>(${u.at('ignore')}) || t < 0 || t >= i32(C)) { gx[gidx] = 0.0; return; }
  ${stridedOffset(u, 'xo', 'p', R, 'pshape', 'xstr', 'xoff')}
  ${stridedOffset(u, 'go', 'p', R, 'pshape', 'gstr', 'goff')}
  let prob = exp((x[xo + c * ${u.at('cstr')}] - lse[2u * p]) - lse[2u * p + 1u]);
  gx[gidx] = gl[go] * (prob - select(0.0, 1.0, i32(c) == t));
}` };
  });
  const label = 'cross_entropy_backward';
  const [bx, bt, bl, bg] = [logits, target, lse, gr].map((t) => bindView(t, label));
  if (bl.offset !== 0) throw new Error(`${label}: the saved statistics must start their buffer`);
  engine().dispatch({
    label,
    key,
    code,
    buffers: [bx.resource, bt.resource, bl.resource, bg.resource, gx.buffer],
    uniforms: u.pack({
      n,
      C: g.C,
      S,
      ignore,
      cstr: logits.strides[1],
      pshape: g.posShape,
      xstr: g.xPos,
      xoff: bx.offset,
      tstr: [...target.strides],
      toff: bt.offset,
      gstr: [...gr.strides],
      goff: bg.offset,
    }),
    workgroups: ceilDiv(n, WG),
  });
  return gx;
}

/** The per-position loss, differentiable; logits past a binding are cut along the positions' dims. */
function ceLoss(logits: Tensor, target: Tensor, ignore: number): Tensor {
  const op = 'cross_entropy';
  const geo = ceGeometry(op, logits, target);
  const posBound = { shape: [...geo.posShape, 2], dtype: 'f32' as const };
  if (exceedsBinding(logits, target, posBound)) {
    // A part cut along an inner dim still spans every class: copied dense, it fits.
    if (fitsDense(logits, target, posBound)) return scope(() => ceLoss(contiguous(logits), contiguous(target), ignore));
    const bytes = Math.max(numel(logits.shape) * 4, numel(geo.posShape) * 8);
    // Positions are independent: each part is this op on narrowed views, so autograd cuts the backward too.
    return sliceSharedDims(
      op,
      geo.posShape,
      bytes,
      (k, s, l) => scope(() => ceLoss(narrow(logits, k === 0 ? 0 : k + 1, s, l), narrow(target, k, s, l), ignore)),
      (k, parts) => concat(parts, k),
    );
  }
  const { loss, lse } = ceForward(logits, target, geo, ignore);
  record(op, [logits], [loss], ([g], [xs, ts, ls]) => [ceBackward(g!, xs, ts, ls, ignore)], [logits, target, lse]);
  lse.dispose();
  return loss;
}

/**
 * F.cross_entropy with integer targets over logits (N, C) or (N, C, d1, ...): a fused log-softmax + NLL kernel.
 * 'mean' divides by the number of non-ignored targets (NaN when there are none, as PyTorch). A target outside
 * [0, C) that is not ignoreIndex gives NaN (the GPU cannot throw); `checkClassTargets` reports it.
 */
export function crossEntropy(logits: Tensor, target: Tensor, options: CrossEntropyOptions = {}): Tensor {
  const op = 'cross_entropy';
  assertTensor(op, logits, 'logits');
  assertTensor(op, target, 'target');
  const ignore = options.ignoreIndex ?? 255;
  const reduction = options.reduction ?? 'mean';
  checkReduction(op, reduction);
  if (!Number.isInteger(ignore)) throw new TensorError(op, `ignoreIndex must be an integer, got ${ignore}`);
  const loss = ceLoss(logits, target, ignore);
  if (reduction !== 'mean') return reduce(loss, reduction);
  const total = sum(loss);
  const valid = ne(target, ignore);
  const countU = sum(valid);
  const count = cast(countU, 'f32');
  const out = div(total, count);
  for (const t of [loss, total, valid, countU, count]) t.dispose();
  return out;
}

/** Reads the targets back and throws naming the first one outside [0, numClasses) that is not ignoreIndex. */
export async function checkClassTargets(target: Tensor, numClasses: number, ignoreIndex = 255): Promise<void> {
  assertTensor('cross_entropy', target, 'target');
  const data = await target.data();
  for (let i = 0; i < data.length; i++) {
    const t = data[i];
    if (t !== ignoreIndex && (t < 0 || t >= numClasses)) {
      throw new TensorError('cross_entropy', `target ${t} at flat position ${i} is not a class of ${numClasses} (target shape ${formatShape(target.shape)}, ignoreIndex ${ignoreIndex})`);
    }
  }
}

// ---------------------------------------------------------------- binary cross entropy

function checkPair(op: string, x: Tensor, y: Tensor, xName: string): void {
  assertTensor(op, x, xName);
  assertTensor(op, y, 'target');
  if (x.dtype !== 'f32' || y.dtype !== 'f32') throw shapeError(op, `${xName} and target must be f32, got ${x.dtype} and ${y.dtype}`, x.shape, y.shape);
  if (!shapesEqual(x.shape, y.shape)) throw shapeError(op, `${xName} and target must have the same shape`, x.shape, y.shape);
}

/** Elementwise −[y log σ(x) + (1−y) log σ(−x)] = max(x, 0) − x·y + log(1 + e^−|x|), stable for any x. */
function bceLogitsElementwise(x: Tensor, y: Tensor): Tensor {
  const l = runMap('bce_with_logits', [x, y], x.shape, 'f32', 'f32', 'max(x0, 0.0) - x0 * x1 + log(1.0 + exp(-abs(x0)))');
  record(
    'bce_with_logits',
    [x, y],
    [l],
    ([g], [xs, ys]) => {
      noDoubleBackward('bce_with_logits', [g!, xs, ys]);
      return [
        xs.requiresGrad ? runMap('bce_with_logits_grad', [g!, xs, ys], xs.shape, 'f32', 'f32', 'x0 * (sigmoid_f(x1) - x2)') : null,
        ys.requiresGrad ? runMap('bce_with_logits_grad', [g!, xs], xs.shape, 'f32', 'f32', '-x0 * x1') : null,
      ];
    },
    [x, y],
  );
  return l;
}

export function binaryCrossEntropyWithLogits(x: Tensor, target: Tensor, options: { reduction?: Reduction } = {}): Tensor {
  const op = 'binary_cross_entropy_with_logits';
  checkPair(op, x, target, 'input');
  const reduction = options.reduction ?? 'mean';
  checkReduction(op, reduction);
  return reduce(bceLogitsElementwise(x, target), reduction);
}

/**
 * F.multilabel_soft_margin_loss: the logistic loss averaged over the classes of each sample (N, C), then
 * reduced over the batch. SeCo's classification loss.
 */
export function multilabelSoftMarginLoss(x: Tensor, target: Tensor, options: { reduction?: Reduction } = {}): Tensor {
  const op = 'multilabel_soft_margin_loss';
  checkPair(op, x, target, 'input');
  if (x.rank !== 2) throw shapeError(op, `input must be (N, C), got rank ${x.rank}`, x.shape);
  const reduction = options.reduction ?? 'mean';
  checkReduction(op, reduction);
  const l = bceLogitsElementwise(x, target);
  const perSample = mean(l, -1);
  l.dispose();
  return reduce(perSample, reduction);
}

/**
 * F.binary_cross_entropy on probabilities: −[y·log p + (1−y)·log(1−p)] with each log clamped at −100, as
 * PyTorch (so p = 0 or 1 gives a finite loss); the gradient divides by max(p(1−p), 1e-12).
 */
export function binaryCrossEntropy(p: Tensor, target: Tensor, options: { reduction?: Reduction } = {}): Tensor {
  const op = 'binary_cross_entropy';
  checkPair(op, p, target, 'input');
  const reduction = options.reduction ?? 'mean';
  checkReduction(op, reduction);
  const l = runMap(op, [p, target], p.shape, 'f32', 'f32', '-(x1 * max(log(x0), -100.0) + (1.0 - x1) * max(log(1.0 - x0), -100.0))');
  record(
    op,
    [p, target],
    [l],
    ([g], [ps, ys]) => {
      noDoubleBackward(op, [g!, ps, ys]);
      return [
        ps.requiresGrad ? runMap(`${op}_grad`, [g!, ps, ys], ps.shape, 'f32', 'f32', 'x0 * (x1 - x2) / max((1.0 - x1) * x1, 1e-12)') : null,
        ys.requiresGrad
          ? runMap(`${op}_grad`, [g!, ps], ps.shape, 'f32', 'f32', 'x0 * (max(log(1.0 - x1), -100.0) - max(log(x1), -100.0))')
          : null,
      ];
    },
    [p, target],
  );
  return reduce(l, reduction);
}
