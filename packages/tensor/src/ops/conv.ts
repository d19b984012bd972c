import { noGrad, record } from '../autograd/graph.ts';
import { shapeError, TensorError } from '../errors.ts';
import { type ConvGeometry, forwardPlan, inputGradPlan, runPlan, weightGradPlan } from '../kernels/conv-run.ts';
import { launchMatmul, type MatmulPlan, planMatmul } from '../kernels/matmul-run.ts';
import { matmulConfig, type TuneResult, tuneMatmulPlan } from '../kernels/matmul-tune.ts';
import { assertTensor, Tensor } from '../tensor.ts';
import { cast } from './elementwise.ts';
import { matmul } from './matmul.ts';
import { sum } from './reduce.ts';
import { pad } from './shape.ts';
import { bindsWhole, bytesOf, sliced } from './slice-axes.ts';
import { contiguous, permute, reshape, slice } from './view.ts';

export type Pair = number | readonly [number, number];

export interface Conv2dOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
}

function pair(op: string, name: string, v: Pair | undefined, dflt: number, min: number, shapes: (readonly number[])[]): [number, number] {
  const p: readonly number[] = v === undefined ? [dflt, dflt] : typeof v === 'number' ? [v, v] : v;
  if (p.length !== 2 || p.some((x) => !Number.isInteger(x) || x < min)) {
    const what = min > 0 ? 'positive integers' : 'non-negative integers';
    throw shapeError(op, `${name} must be ${what} (one or a pair), got ${JSON.stringify(v)}`, ...shapes);
  }
  return [p[0], p[1]];
}

/** Validates NCHW input, OIHW weight (groups 1) and the options; works out the output size. */
export function convGeometry(op: string, x: Tensor, weight: Tensor, bias: Tensor | null, options: Conv2dOptions): ConvGeometry {
  assertTensor(op, x, 'x');
  assertTensor(op, weight, 'weight');
  if (bias) assertTensor(op, bias, 'bias');
  // f32, or f16 throughout (f16 storage, f32 accumulation in the matmul core); no silent mixing.
  for (const [name, t] of [['x', x], ['weight', weight], ['bias', bias]] as const) {
    if (t && t.dtype !== 'f32' && t.dtype !== 'f16') throw new TensorError(op, `${name} must be f32 or f16, got ${t.dtype} of shape [${t.shape.join(', ')}]`);
    if (t && t.dtype !== x.dtype) throw new TensorError(op, `operands must share one dtype: x is ${x.dtype}, ${name} is ${t.dtype}`);
  }
  const shapes = [x.shape, weight.shape];
  if (x.rank !== 4) throw shapeError(op, 'x must be 4-D [N, C, H, W]', ...shapes);
  if (weight.rank !== 4) throw shapeError(op, 'weight must be 4-D [out, in, kH, kW]', ...shapes);
  const [N, C, H, W] = x.shape;
  const [O, CI, KH, KW] = weight.shape;
  if (C !== CI) throw shapeError(op, `x has ${C} channels but weight expects ${CI}`, ...shapes);
  if (bias && (bias.rank !== 1 || bias.shape[0] !== O)) throw shapeError(op, `bias must have shape [${O}]`, ...shapes, bias.shape);
  const [sh, sw] = pair(op, 'stride', options.stride, 1, 1, shapes);
  const [ph, pw] = pair(op, 'padding', options.padding, 0, 0, shapes);
  const [dh, dw] = pair(op, 'dilation', options.dilation, 1, 1, shapes);
  const OH = Math.floor((H + 2 * ph - dh * (KH - 1) - 1) / sh) + 1;
  const OW = Math.floor((W + 2 * pw - dw * (KW - 1) - 1) / sw) + 1;
  if (OH <= 0 || OW <= 0 || O === 0 || KH === 0 || KW === 0) {
    throw shapeError(op, `output size ${OH}x${OW} is not positive (stride ${sh}x${sw}, padding ${ph}x${pw}, dilation ${dh}x${dw})`, ...shapes);
  }
  return { N, C, H, W, O, KH, KW, sh, sw, ph, pw, dh, dw, OH, OW };
}

/** Stride equal to the kernel without padding (patch embedding, 1x1): non-overlapping patches, a plain matmul. */
function isPatchConv(g: ConvGeometry): boolean {
  return g.sh === g.KH && g.sw === g.KW && g.ph === 0 && g.pw === 0 && (g.KH === 1 || g.dh === 1) && (g.KW === 1 || g.dw === 1);
}

let patchPathAllowed = true;

/** Sends patch convolutions through the implicit-GEMM kernels too (for tests comparing the two paths). */
export function setConvPatchPath(on: boolean): void {
  patchPathAllowed = on;
}

/**
 * The B operand of a patch conv, [N, Kc, L] for 1x1 (x itself, no copy) or [N, L, Kc] read transposed:
 * one copy of x's kept pixels (remainder rows and columns dropped, as PyTorch), never larger than x.
 */
function patchOperand(g: ConvGeometry, x: Tensor): { b: Tensor; transposed: boolean } {
  if (g.KH === 1 && g.KW === 1) return { b: reshape(x, [g.N, g.C, g.OH * g.OW]), transposed: false };
  const cropped = slice(x, [null, null, [0, g.OH * g.KH], [0, g.OW * g.KW]]);
  const six = reshape(cropped, [g.N, g.C, g.OH, g.KH, g.OW, g.KW]);
  const perm = permute(six, [0, 2, 4, 1, 3, 5]);
  const b = reshape(perm, [g.N, g.OH * g.OW, g.C * g.KH * g.KW]);
  for (const t of [cropped, six, perm]) t.dispose();
  return { b, transposed: true };
}

/** The weight as the GEMM's A: [O, C·KH·KW] (a view when the weight is contiguous). */
const weightMatrix = (g: ConvGeometry, w: Tensor) => reshape(w, [g.O, g.C * g.KH * g.KW]);

/** The forward GEMM, ready to launch: plan and operands (the caller disposes `a` and `b`). */
function forwardGemm(g: ConvGeometry, x: Tensor, weight: Tensor, bias: Tensor | null, patch: boolean): { plan: MatmulPlan; a: Tensor; b: Tensor } {
  const a = weightMatrix(g, weight);
  if (!patch) return { plan: forwardPlan(g, x, a, bias !== null), a, b: x.view(x.shape, x.strides, x.offset, 'conv2d') };
  const { b, transposed } = patchOperand(g, x);
  const plan = planMatmul(a, b, false, transposed, [g.N], bias !== null);
  plan.variant.biasRows = true;
  return { plan, a, b };
}

function forward(g: ConvGeometry, x: Tensor, weight: Tensor, bias: Tensor | null, patch: boolean): Tensor {
  const { plan, a, b } = forwardGemm(g, x, weight, bias, patch);
  const out = Tensor.empty([g.N, g.O, g.OH, g.OW], x.dtype, 'conv2d');
  launchMatmul('conv2d', plan, matmulConfig(plan), a, b, out, bias);
  a.dispose();
  b.dispose();
  return out;
}

/** Patch conv gradients, written with differentiable ops (matmul, views, pad). */
function patchGrads(g: ConvGeometry, gout: Tensor, x: Tensor, w: Tensor, wantX: boolean, wantW: boolean): [Tensor | null, Tensor | null] {
  const L = g.OH * g.OW;
  const Kc = g.C * g.KH * g.KW;
  const g3 = reshape(gout, [g.N, g.O, L]);
  const w2 = reshape(w, [g.O, Kc]);
  let dw: Tensor | null = null;
  if (wantW) {
    const { b, transposed } = patchOperand(g, x);
    // Σ_n dout[n]·patches[n]: a batched product summed in a fixed order (deterministic).
    const per = matmul(g3, b, { transposeB: !transposed });
    dw = reshape(g.N > 1 ? sum(per, 0) : per, [g.O, g.C, g.KH, g.KW]);
  }
  let dx: Tensor | null = null;
  if (wantX) {
    if (!(g.KH === 1 && g.KW === 1)) {
      const dp = matmul(g3, w2, { transposeA: true });
      const six = permute(reshape(dp, [g.N, g.OH, g.OW, g.C, g.KH, g.KW]), [0, 3, 1, 4, 2, 5]);
      dx = reshape(six, [g.N, g.C, g.OH * g.KH, g.OW * g.KW]);
    } else dx = reshape(matmul(w2, g3, { transposeA: true }), [g.N, g.C, g.OH, g.OW]);
    const [rh, rw] = [g.H - g.OH * g.KH, g.W - g.OW * g.KW];
    // pad has no f16 kernel: pad the (small, dropped-pixel) remainder in f32.
    if (rh > 0 || rw > 0) dx = dx.dtype === 'f16' ? cast(pad(cast(dx, 'f32'), [0, rw, 0, rh]), 'f16') : pad(dx, [0, rw, 0, rh]);
  }
  return [dx, dw];
}

function implicitGrads(g: ConvGeometry, gout: Tensor, x: Tensor, w: Tensor, wantX: boolean, wantW: boolean): [Tensor | null, Tensor | null] {
  let dw: Tensor | null = null;
  if (wantW) {
    // dout as [O, N·OH·OW]: a view for one image, otherwise one copy of dout with the batch moved inward.
    const gm = g.N === 1 ? reshape(gout, [g.O, g.OH * g.OW]) : reshape(contiguous(permute(gout, [1, 0, 2, 3])), [g.O, g.N * g.OH * g.OW]);
    dw = runPlan('conv2d.backward', weightGradPlan(g, gm, x), gm, x, null, [g.O, g.C, g.KH, g.KW]);
  }
  let dx: Tensor | null = null;
  if (wantX) {
    // Wᵀ as [C, O·KH·KW], contiguous along k (a copy of the weight, small next to the GEMM).
    const wt = reshape(contiguous(permute(w, [1, 0, 2, 3])), [g.C, g.O * g.KH * g.KW]);
    dx = runPlan('conv2d.backward', inputGradPlan(g, gout, wt), wt, gout, null, [g.N, g.C, g.H, g.W]);
  }
  return [dx, dw];
}

/**
 * conv2d in parts when a tensor it binds is larger than a binding: along the images, the output channels, or
 * the input channels (parts summed, the bias added once). The patch path's weight gradient is a per-image
 * product [N, O, C·KH·KW] before its sum, so it counts too. Null when nothing must slice.
 */
function slicedConv(g: ConvGeometry, x: Tensor, weight: Tensor, bias: Tensor | null, options: Conv2dOptions, patch: boolean): Tensor | null {
  const out = [g.N, g.O, g.OH, g.OW];
  const perImage = patch && weight.requiresGrad ? [g.N, g.O, g.C, g.KH * g.KW] : null;
  if (bindsWhole([x, weight, bias], bytesOf(out, x.dtype), perImage ? bytesOf(perImage, x.dtype) : 0)) return null;
  return sliced({
    op: 'conv2d',
    sizes: [g.N, g.O, g.C],
    inputs: [
      { t: x, dims: [0, -1, 1] },
      { t: weight, dims: [-1, 0, 1] },
      bias && { t: bias, dims: [-1, 0, -1] },
    ],
    out: { shape: out, dtype: x.dtype, dims: [0, 1, -1] },
    temps: perImage ? [{ shape: perImage, dtype: x.dtype, dims: [0, 1, 2] }] : [],
    part: ([px, pw, pb], axis, start) => conv2d(px!, pw!, axis === 2 && start > 0 ? null : pb, options),
  });
}

/**
 * torch.nn.functional.conv2d for groups = 1: NCHW input, OIHW weight, zero padding, optional bias, on the
 * matmul core. Patch convs (stride = kernel, no padding: ViT's 16x16/16 embedding, 1x1) are a view and one
 * matmul; everything else is an implicit GEMM that gathers im2col columns on the fly. Backward: dW as one GEMM
 * of dout with input patches, dx as a transposed conv; deterministic, no atomics.
 */
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, options: Conv2dOptions = {}): Tensor {
  const b = bias ?? null;
  const g = convGeometry('conv2d', x, weight, b, options);
  const patch = patchPathAllowed && isPatchConv(g);
  const parts = slicedConv(g, x, weight, b, options, patch);
  if (parts) return parts;
  const y = noGrad(() => forward(g, x, weight, b, patch));
  const inputs = b ? [x, weight, b] : [x, weight];
  record(
    'conv2d',
    inputs,
    [y],
    ([gy], [sx, sw]) => {
      const grads = (patch ? patchGrads : implicitGrads)(g, gy!, sx, sw, sx.requiresGrad, sw.requiresGrad);
      return b ? [...grads, sum(gy!, [0, 2, 3])] : grads;
    },
    [x, weight],
  );
  return y;
}

/**
 * Times the matmul core's tile candidates on this conv's forward GEMM and remembers the fastest for its shape
 * class (as autotuneMatmul); later conv2d calls of that class use it.
 */
export async function autotuneConv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, options: Conv2dOptions = {}): Promise<TuneResult> {
  const b = bias ?? null;
  const g = convGeometry('autotuneConv2d', x, weight, b, options);
  const gemm = noGrad(() => forwardGemm(g, x, weight, b, patchPathAllowed && isPatchConv(g)));
  const out = Tensor.empty([g.N, g.O, g.OH, g.OW], x.dtype, 'autotuneConv2d');
  try {
    return await tuneMatmulPlan(gemm.plan, (cfg) => launchMatmul('autotuneConv2d', gemm.plan, cfg, gemm.a, gemm.b, out, b));
  } finally {
    for (const t of [out, gemm.a, gemm.b]) t.dispose();
  }
}
