import { Tensor } from '../tensor.ts';
import { gatherHook, type GatherGeometry, gatherUniforms } from './conv-gather.ts';
import { type GemmConfig, launchMatmul, type MatmulPlan, subgroupsUsable } from './matmul-run.ts';
import { matmulConfig } from './matmul-tune.ts';

/** A validated conv2d: NCHW input, OIHW weight, output OH x OW. */
export interface ConvGeometry {
  N: number;
  C: number;
  H: number;
  W: number;
  O: number;
  KH: number;
  KW: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
  dh: number;
  dw: number;
  OH: number;
  OW: number;
}

const aligned = (...xs: number[]) => xs.every((x) => x % 4 === 0);

/**
 * The plan of C[b] = A·B[b] where A is a plain strided 2-D matrix [M, K] shared by every batch and B is gathered
 * by the hook (batch stride `sBatch` into the gathered source).
 */
function implicitPlan(a: Tensor, M: number, N: number, K: number, batch: number, sBatch: number, geo: GatherGeometry, bias: boolean): MatmulPlan {
  const [sAm, sAk] = a.strides;
  const divided = geo.divH > 1 || geo.divW > 1;
  return {
    M,
    N,
    K,
    batchShape: [batch],
    sAm,
    sAk,
    sBk: 0,
    sBn: 0,
    sAb: [0],
    sBb: [batch > 1 ? sBatch : 0],
    variant: {
      aVec4: sAk === 1 && K % 4 === 0 && aligned(a.offset, M > 1 ? sAm : 0),
      bVec4: false,
      batchRank: 1,
      bias,
      biasRows: true,
      subgroup: subgroupsUsable(),
      bHook: gatherHook(divided),
      // f16 operands (A, the gathered B, bias and the output share one dtype): widened loads, f32 accumulators.
      half: a.dtype === 'f16',
    },
    hookUniforms: gatherUniforms(geo),
  };
}

/** Forward as implicit GEMM: out[n] (O x OH·OW) = W (O x C·KH·KW) · im2col(x[n]); bias per output row. */
export function forwardPlan(g: ConvGeometry, x: Tensor, w2: Tensor, bias: boolean): MatmulPlan {
  const geo: GatherGeometry = {
    H: g.H,
    W: g.W,
    sH: x.strides[2],
    sW: x.strides[3],
    colA: g.OH,
    colB: g.OW,
    colQs: 0,
    colHs: g.sh,
    colHo: -g.ph,
    colWs: g.sw,
    colWo: -g.pw,
    kA: g.KH,
    kB: g.KW,
    kQs: x.strides[1],
    kHs: g.dh,
    kWs: g.dw,
    divH: 1,
    divW: 1,
  };
  return implicitPlan(w2, g.O, g.OH * g.OW, g.C * g.KH * g.KW, g.N, x.strides[0], geo, bias);
}

/**
 * dW (O x C·KH·KW) = dout (O x N·OH·OW) · im2col(x)ᵀ: columns are kernel taps, the reduction runs over batch
 * and output pixels, so there is one GEMM and no cross-batch sum (deterministic, no atomics).
 */
export function weightGradPlan(g: ConvGeometry, gm: Tensor, x: Tensor): MatmulPlan {
  const geo: GatherGeometry = {
    H: g.H,
    W: g.W,
    sH: x.strides[2],
    sW: x.strides[3],
    colA: g.KH,
    colB: g.KW,
    colQs: x.strides[1],
    colHs: g.dh,
    colHo: -g.ph,
    colWs: g.dw,
    colWo: -g.pw,
    kA: g.OH,
    kB: g.OW,
    kQs: x.strides[0],
    kHs: g.sh,
    kWs: g.sw,
    divH: 1,
    divW: 1,
  };
  return implicitPlan(gm, g.O, g.C * g.KH * g.KW, g.N * g.OH * g.OW, 1, 0, geo, false);
}

/**
 * dx[n] (C x H·W) = Wᵀ (C x O·KH·KW) · G[n], a transposed conv: G[(o, kh, kw), (ih, iw)] = dout[n, o, oh, ow]
 * with oh·sh = ih + ph − kh·dh (the flip is the negative k step); stride > 1 adds the divisibility test.
 */
export function inputGradPlan(g: ConvGeometry, gout: Tensor, wt: Tensor): MatmulPlan {
  const geo: GatherGeometry = {
    H: g.OH,
    W: g.OW,
    sH: gout.strides[2],
    sW: gout.strides[3],
    colA: g.H,
    colB: g.W,
    colQs: 0,
    colHs: 1,
    colHo: g.ph,
    colWs: 1,
    colWo: g.pw,
    kA: g.KH,
    kB: g.KW,
    kQs: gout.strides[1],
    kHs: -g.dh,
    kWs: -g.dw,
    divH: g.sh,
    divW: g.sw,
  };
  return implicitPlan(wt, g.C, g.H * g.W, g.O * g.KH * g.KW, g.N, gout.strides[0], geo, false);
}

/** Runs a plan into a fresh contiguous tensor of `shape` (the GEMM's [batch, M, N] in memory order). */
export function runPlan(op: string, p: MatmulPlan, a: Tensor, b: Tensor, bias: Tensor | null, shape: number[], cfg?: GemmConfig): Tensor {
  const out = Tensor.empty(shape, a.dtype, op);
  launchMatmul(op, p, cfg ?? matmulConfig(p), a, b, out, bias);
  return out;
}
