import { engine } from '../runtime/engine.ts';
import type { Shape } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { bindView } from './binding.ts';
import { type TiledGemmConfig, tiledGemmCode, tiledGemmKey, tiledLayout, tiledReads } from './gemm-tiled.ts';
import { type MatmulConfig, matmulCode, matmulKey, matmulLayout, type MatmulVariant } from './matmul.ts';
import { recordMatmul } from './matmul-record.ts';
import { memoKernel } from './memo.ts';
import type { UniformLayout } from './uniforms.ts';

/** Tiles of either kernel family: register blocks (CPU class) or workgroup-memory tiles (GPU class). */
export type GemmConfig = MatmulConfig | TiledGemmConfig;

export const isTiled = (c: GemmConfig): c is TiledGemmConfig => (c as TiledGemmConfig).kind === 'tiled';

/** Where C[b] = op(A[b])·op(B[b]) reads its operands: sizes and element strides, transposes already applied. */
export interface MatmulPlan {
  M: number;
  N: number;
  K: number;
  batchShape: number[];
  sAm: number;
  sAk: number;
  sBk: number;
  sBn: number;
  sAb: number[];
  sBb: number[];
  variant: MatmulVariant;
  /** Values of the B hook's uniform fields. */
  hookUniforms?: Record<string, number | readonly number[]>;
}

/** Strides of a tensor's batch dims broadcast to `batchShape` (0 where the dim is 1 or missing). */
function batchStrides(t: Tensor, batchShape: Shape): number[] {
  const tb = t.rank - 2;
  const lead = batchShape.length - tb;
  return batchShape.map((_, d) => {
    const i = d - lead;
    return i < 0 || t.shape[i] === 1 ? 0 : t.strides[i];
  });
}

/** True when batch dims of these strides step exactly one full block of rows each (size-1 dims never step). */
function foldsIntoRows(batchShape: readonly number[], strides: readonly number[], rowBlock: number): boolean {
  let want = rowBlock;
  for (let d = batchShape.length - 1; d >= 0; d--) {
    if (batchShape[d] === 1) continue;
    if (strides[d] !== want) return false;
    want *= batchShape[d];
  }
  return true;
}

let subgroupsAllowed = true;

/** Turns the subgroup kernels off (or back on where the device has them): for tests and comparisons. */
export function setMatmulSubgroups(on: boolean): void {
  subgroupsAllowed = on;
}

/**
 * subgroupBroadcast from lanes 0..7 needs the feature and subgroups of at least 8 lanes. CPU class only: the
 * 8-lane row sharing is a llvmpipe trick (one AVX2 register); on a 32- or 64-lane GPU it would idle most lanes,
 * and the GPU class runs the workgroup-tiled kernel anyway.
 */
export function subgroupsUsable(): boolean {
  const e = engine();
  const info = (e.device as GPUDevice & { adapterInfo?: { subgroupMinSize?: number } }).adapterInfo;
  return subgroupsAllowed && e.isCpu && e.hasFeature('subgroups') && (info?.subgroupMinSize ?? 0) >= 8;
}

const aligned = (...xs: number[]) => xs.every((x) => x % 4 === 0);

/** Geometry of op(a)·op(b) for validated operands; `batchShape` is the broadcast batch shape. */
export function planMatmul(a: Tensor, b: Tensor, transA: boolean, transB: boolean, batch: readonly number[], bias: boolean): MatmulPlan {
  let batchShape = [...batch];
  const ra = a.rank;
  const rb = b.rank;
  const [M, K] = transA ? [a.shape[ra - 1], a.shape[ra - 2]] : [a.shape[ra - 2], a.shape[ra - 1]];
  const N = transB ? b.shape[rb - 2] : b.shape[rb - 1];
  const sAm = a.strides[transA ? ra - 1 : ra - 2];
  const sAk = a.strides[transA ? ra - 2 : ra - 1];
  const sBk = b.strides[transB ? rb - 1 : rb - 2];
  const sBn = b.strides[transB ? rb - 2 : rb - 1];
  let sAb = batchStrides(a, batchShape);
  let sBb = batchStrides(b, batchShape);
  let rows = M;
  // B shared by every batch (weights, 4-D @ 2-D) and A's batch dims laid out as a continuation of its rows:
  // fold the batch into M, one taller 2-D product (the output is contiguous either way).
  if (batchShape.length > 0 && sBb.every((s) => s === 0) && foldsIntoRows(batchShape, sAb, sAm * M)) {
    rows = M * batchShape.reduce((x, y) => x * y, 1);
    batchShape = [];
    sAb = [];
    sBb = [];
  }
  // vec4 reads along k need unit k stride and every row start 4-aligned (size-1 dims never move the start).
  const aVec4 = sAk === 1 && K % 4 === 0 && aligned(a.offset, rows > 1 ? sAm : 0, ...sAb);
  // B along k only pays when B is not contiguous along n (the NT case, e.g. q·kᵀ and x·Wᵀ).
  const bVec4 = sBn !== 1 && sBk === 1 && K % 4 === 0 && aligned(b.offset, N > 1 ? sBn : 0, ...sBb);
  return {
    M: rows,
    N,
    K,
    batchShape,
    sAm,
    sAk,
    sBk,
    sBn,
    sAb,
    sBb,
    variant: { aVec4, bVec4, batchRank: batchShape.length, bias, subgroup: subgroupsUsable(), half: a.dtype === 'f16' },
  };
}

interface Launchable {
  key: string;
  code: string;
  layout: UniformLayout;
  /** Workgroups along N and M. */
  gx: number;
  gy: number;
}

/** The GPU class gets the workgroup-tiled kernel; the CPU class the register-blocked one. */
function kernelFor(p: MatmulPlan, cfg: GemmConfig): Launchable {
  const gpu = engine().adapterClass === 'gpu';
  if (gpu !== isTiled(cfg)) {
    throw new Error(`matmul: ${isTiled(cfg) ? 'workgroup tiles' : 'register tiles'} ${JSON.stringify(cfg)} given to the ${gpu ? 'GPU' : 'CPU'}-class kernel`);
  }
  if (isTiled(cfg)) {
    const reads = tiledReads(p.variant, p);
    const key = tiledGemmKey(cfg, p.variant, reads);
    const { code, layout } = memoKernel(key, () => ({ code: tiledGemmCode(cfg, p.variant, reads), layout: tiledLayout(p.variant) }));
    return { key, code, layout, gx: Math.ceil(p.N / cfg.bn), gy: Math.ceil(p.M / cfg.bm) };
  }
  const key = matmulKey(cfg, p.variant);
  const { code, layout } = memoKernel(key, () => ({ code: matmulCode(cfg, p.variant), layout: matmulLayout(p.variant.batchRank, p.variant.bHook) }));
  return { key, code, layout, gx: Math.ceil(p.N / (cfg.wg * cfg.tn)), gy: Math.ceil(p.M / cfg.tm) };
}

/** Encodes the dispatches of one matmul into `out` (contiguous [...batchShape, M, N]). */
export function launchMatmul(label: string, p: MatmulPlan, cfg: GemmConfig, a: Tensor, b: Tensor, out: Tensor, bias: Tensor | null): void {
  const batch = p.batchShape.reduce((x, y) => x * y, 1);
  if (p.M === 0 || p.N === 0 || batch === 0) return;
  recordMatmul(p, a, b, out, bias);
  const e = engine();
  const { key, code, layout: u, gx, gy } = kernelFor(p, cfg);
  const max = e.maxWorkgroupsPerDim;
  // Operands bigger than a binding are bound as the window their view spans (the ops slice so that it fits).
  // Window starts are multiples of the offset alignment (at least 16 bytes), so vec4 offsets stay 4-aligned.
  const ba = bindView(a, label);
  const bb = bindView(b, label);
  const bbias = bias ? bindView(bias, label) : null;
  const bout = bindView(out, label);
  if (bout.offset !== 0 || (p.variant.aVec4 && ba.offset % 4 !== 0) || (p.variant.bVec4 && bb.offset % 4 !== 0)) {
    throw new Error(`${label}: a window broke the kernel's layout (output offset ${bout.offset}, A ${ba.offset}, B ${bb.offset})`);
  }
  const buffers = bbias ? [ba.resource, bb.resource, bbias.resource, bout.resource] : [ba.resource, bb.resource, bout.resource];
  // Grids past the per-dimension limit are split into several dispatches (row and batch bases in uniforms).
  for (let z0 = 0; z0 < batch; z0 += max) {
    for (let y0 = 0; y0 < gy; y0 += max) {
      const uniforms = u.pack({
        M: p.M,
        N: p.N,
        K: p.K,
        rowBase: y0,
        batchBase: z0,
        offA: ba.offset,
        offB: bb.offset,
        offBias: bbias ? bbias.offset : 0,
        sAm: p.sAm,
        sAk: p.sAk,
        sBk: p.sBk,
        sBn: p.sBn,
        sBias: bias ? bias.strides[0] : 0,
        batchShape: p.batchShape.length ? p.batchShape : [1],
        sAb: p.sAb.length ? p.sAb : [0],
        sBb: p.sBb.length ? p.sBb : [0],
        ...p.hookUniforms,
      });
      e.dispatch({ label, key, code, buffers, uniforms, workgroups: [gx, Math.min(max, gy - y0), Math.min(max, batch - z0)] });
    }
  }
}
