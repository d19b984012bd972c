import { UniformLayout } from './uniforms.ts';

/**
 * WGSL for C[b] = A[b]·B[b] (+ bias), register-blocked without workgroup memory.
 *
 * Layout of the work: a workgroup owns `tm` output rows and `wg·tn` columns. The rows (and the batch) come
 * from workgroup_id only, so every A load is the same address in all invocations; llvmpipe then issues one
 * scalar load and a broadcast instead of a gather, and a GPU serves it from one cache line. Invocation `l`
 * owns columns l, l+wg, ..., so B loads of neighbouring invocations are neighbouring addresses (a cheap,
 * contiguous gather on the CPU, a coalesced load on a GPU). Each invocation keeps tm·tn f32 accumulators.
 *
 * With subgroups (8+ lanes) A is not loaded uniformly at all: lane i of each subgroup loads row i's four k
 * values and subgroupBroadcast hands them to the other lanes. On llvmpipe a same-address load inside a loop is
 * still a gather, so this cuts A's loads by 8x and more than doubles throughput.
 *
 * Operands are read in place through strides (index hooks): a transposed view is just swapped strides, a
 * broadcast batch dimension a zero stride. Where the inner stride along k is 1 and everything is 4-aligned,
 * an operand is bound as vec4 and read four k at a time.
 */
export interface MatmulConfig {
  /** Invocations per workgroup (a multiple of 8: llvmpipe runs 8 lanes per AVX2 register). */
  wg: number;
  /** Output rows per workgroup (uniform across it). */
  tm: number;
  /** Output columns per invocation, `wg` apart. */
  tn: number;
}

export interface MatmulVariant {
  /** A bound as vec4 and read along k (needs A's k stride 1, K % 4 == 0 and 4-aligned offsets and strides). */
  aVec4: boolean;
  /** B bound as vec4 and read along k per column (the NT case: B's k stride 1, same alignment). */
  bVec4: boolean;
  /** Number of batch dimensions of the output (0 for plain 2-D). */
  batchRank: number;
  bias: boolean;
  /** Share A rows through subgroupBroadcast (needs the subgroups feature, subgroup size >= 8, tm % 8 == 0). */
  subgroup: boolean;
  /** The bias is per output row (conv channels as M), not per column. */
  biasRows?: boolean;
  /** B's elements are computed by this hook instead of strided loads (implicit GEMM); needs bVec4 false. */
  bHook?: OperandHook;
  /** A, B, bias and C are stored as f16: loads widen to f32, accumulators stay f32, the store rounds once. */
  half?: boolean;
}

/**
 * Computes B[k, n] from indices instead of reading a stored matrix: implicit GEMM, where B is an im2col matrix
 * that never exists. The kernel walks k in order, so the hook keeps its own k state and advances it one step at
 * a time (incremental index arithmetic, no divisions in the inner loop).
 */
export interface OperandHook {
  /** Names the code the hook generates (part of the matmul kernel key). */
  key: string;
  /** Reserves the hook's uniform fields. */
  fields(u: UniformLayout): void;
  /** Per-column setup for column slot j; `col` is the (clamped) column, `base` B's batch offset (u32 exprs). */
  column(u: UniformLayout, j: number, col: string, base: string): string[];
  /** Declares and zeroes the k state (k = 0). */
  init(u: UniformLayout): string[];
  /** Moves the k state to k + 1. */
  advance(u: UniformLayout): string[];
  /** Lines declaring `let <dst>` = B[k, column j] at the current k state. */
  read(u: UniformLayout, j: number, dst: string): string[];
  /**
   * Random access for the workgroup-tiled GPU kernel, whose invocations load B tiles cooperatively (no k
   * order per column): lines declaring `let <dst>: f32` = B[k, n] from in-range u32 expressions `k` and `n`
   * (divisions included; cheap next to the tile of FMAs each load feeds). `base` is B's batch offset.
   */
  at(u: UniformLayout, k: string, n: string, base: string, dst: string): string[];
}

export function matmulLayout(batchRank: number, hook?: OperandHook): UniformLayout {
  const r = Math.max(batchRank, 1);
  const u = new UniformLayout()
    .field('M')
    .field('N')
    .field('K')
    .field('rowBase')
    .field('batchBase')
    .field('offA')
    .field('offB')
    .field('offBias')
    .field('sAm')
    .field('sAk')
    .field('sBk')
    .field('sBn')
    .field('sBias')
    .field('batchShape', r)
    .field('sAb', r)
    .field('sBb', r);
  hook?.fields(u);
  return u;
}

/** A short name for matmulCode(cfg, v): every field the code depends on. */
export function matmulKey(cfg: MatmulConfig, v: MatmulVariant): string {
  const f = (b: boolean | undefined) => (b ? 1 : 0);
  return `matmul|${cfg.wg},${cfg.tm},${cfg.tn}|${f(v.aVec4)}${f(v.bVec4)}${f(v.bias)}${f(v.biasRows)}${f(v.subgroup)}${f(v.half)}|${v.batchRank}|${v.bHook?.key ?? ''}`;
}

/**
 * WGSL lines declaring `batch` (from wid.z) and the operands' batch offsets `offA` / `offB`: the batch index
 * decomposed over the output's batch shape (zero strides broadcast). Shared by both matmul kernel families.
 */
export function batchOffsets(u: UniformLayout, batchRank: number): string[] {
  const U = (name: string, i = 0) => u.at(name, i);
  const L = [`let batch = wid.z + ${U('batchBase')};`, `var offA = ${U('offA')};`, `var offB = ${U('offB')};`];
  if (batchRank > 0) {
    L.push('{ var rem = batch;');
    for (let d = batchRank - 1; d >= 0; d--) {
      L.push(`  let i${d} = rem % ${U('batchShape', d)}; rem = rem / ${U('batchShape', d)};`);
      L.push(`  offA += i${d} * ${U('sAb', d)}; offB += i${d} * ${U('sBb', d)};`);
    }
    L.push('}');
  }
  return L;
}

export function matmulCode(cfg: MatmulConfig, v: MatmulVariant): string {
  const { wg, tm, tn } = cfg;
  const hook = v.bHook;
  if (hook && v.bVec4) throw new Error('matmul: a B hook needs scalar B reads');
  const u = matmulLayout(v.batchRank, hook);
  const U = (name: string, i = 0) => u.at(name, i);
  const rows = range(tm);
  const cols = range(tn);
  const L: string[] = [];
  L.push(...batchOffsets(u, v.batchRank));
  // Out-of-range rows and columns are clamped for loading (loads stay unconditional, so uniform ones stay
  // uniform) and masked at the store.
  L.push(`let row0 = (wid.y + ${U('rowBase')}) * ${tm}u;`);
  const sgRows = v.subgroup ? range(tm / 8) : [];
  if (v.subgroup) {
    if (tm % 8 !== 0) throw new Error(`matmul: subgroup tiles need tm % 8 == 0, got ${tm}`);
    for (const r of sgRows) L.push(`let ra${r} = offA + min(row0 + ${r * 8}u + (sgid & 7u), ${U('M')} - 1u) * ${U('sAm')};`);
  } else {
    for (const i of rows) L.push(`let ra${i} = offA + min(row0 + ${i}u, ${U('M')} - 1u) * ${U('sAm')};`);
  }
  L.push(`let col0 = wid.x * ${wg * tn}u + lid.x;`);
  for (const j of cols) {
    const col = `min(col0 + ${j * wg}u, ${U('N')} - 1u)`;
    if (hook) L.push(...hook.column(u, j, col, 'offB'));
    else L.push(`let cb${j} = offB + ${col} * ${U('sBn')};`);
  }
  if (hook) L.push(...hook.init(u));
  for (const i of rows) for (const j of cols) L.push(`var c${i}_${j} = 0.0;`);

  // Storage element -> f32 (a no-op for f32 storage).
  const w = (x: string) => (v.half ? `f32(${x})` : x);
  const w4 = (x: string) => (v.half ? `vec4<f32>(${x})` : x);
  const readA = (i: number, kk: number) => (v.aVec4 ? `a${i}[${kk}]` : w(`A[ra${i} + (k + ${kk}u) * ${U('sAk')}]`));
  const readB = (j: number, kk: number) => (v.bVec4 ? `b${j}[${kk}]` : w(`B[cb${j} + (k + ${kk}u) * ${U('sBk')}]`));
  // A hook reads at its own k state, stepped after each k's loads.
  const loadsB = (kk: number) => (hook ? [...cols.flatMap((j) => hook.read(u, j, `b${j}_${kk}`)), ...hook.advance(u)] : cols.map((j) => `let b${j}_${kk} = ${readB(j, kk)};`));
  const fmas = (i: number, a: (kk: number) => string, ks: number[]) =>
    ks.flatMap((kk) => cols.map((j) => `  c${i}_${j} = fma(${a(kk)}, b${j}_${kk}, c${i}_${j});`));
  const step = (ks: number[], indent: string) => {
    const s: string[] = [];
    for (const kk of ks) s.push(...loadsB(kk));
    for (const i of rows) {
      if (v.subgroup) s.push(`{ let a = subgroupBroadcast(al${i >> 3}, ${i & 7}u);`, ...fmas(i, (kk) => (ks.length === 1 ? 'a' : `a[${kk}]`), ks));
      else s.push(`{`, ...ks.map((kk) => `  let x${kk} = ${readA(i, kk)};`), ...fmas(i, (kk) => `x${kk}`, ks));
      s.push('}');
    }
    return s.map((x) => indent + x).join('\n');
  };
  // Main loop: four k per iteration.
  L.push(`let k4 = ${U('K')} & ~3u;`);
  L.push('var k = 0u;');
  L.push('for (; k < k4; k += 4u) {');
  if (v.subgroup) {
    for (const r of sgRows) {
      const load = v.aVec4
        ? w4(`A[(ra${r} + k) >> 2u]`)
        : `vec4<f32>(${[0, 1, 2, 3].map((kk) => w(`A[ra${r} + (k + ${kk}u) * ${U('sAk')}]`)).join(', ')})`;
      L.push(`  let al${r} = ${load};`);
    }
  } else if (v.aVec4) for (const i of rows) L.push(`  let a${i} = ${w4(`A[(ra${i} + k) >> 2u]`)};`);
  if (v.bVec4) for (const j of cols) L.push(`  let b${j} = ${w4(`B[(cb${j} + k) >> 2u]`)};`);
  L.push(step([0, 1, 2, 3], '  '));
  L.push('}');
  // Tail (K % 4 != 0; never taken by the vec4 variants, which need K % 4 == 0).
  if (!v.aVec4 && !v.bVec4) {
    L.push('for (; k < ' + U('K') + '; k++) {');
    if (v.subgroup) for (const r of sgRows) L.push(`  let al${r} = ${w(`A[ra${r} + k * ${U('sAk')}]`)};`);
    L.push(step([0], '  '));
    L.push('}');
  }
  // Epilogue: bias, masked store into the contiguous output.
  L.push(`let outBase = batch * ${U('M')} * ${U('N')};`);
  for (const j of cols) {
    L.push(`let n${j} = col0 + ${j * wg}u;`);
    if (v.bias && !v.biasRows) L.push(`let bias${j} = ${w(`bias[${U('offBias')} + min(n${j}, ${U('N')} - 1u) * ${U('sBias')}]`)};`);
  }
  for (const i of rows) {
    L.push(`if (row0 + ${i}u < ${U('M')}) {`);
    if (v.bias && v.biasRows) L.push(`  let biasR = ${w(`bias[${U('offBias')} + (row0 + ${i}u) * ${U('sBias')}]`)};`);
    for (const j of cols) {
      const val = v.bias ? `c${i}_${j} + ${v.biasRows ? 'biasR' : `bias${j}`}` : `c${i}_${j}`;
      L.push(`  if (n${j} < ${U('N')}) { C[outBase + (row0 + ${i}u) * ${U('N')} + n${j}] = ${v.half ? `f16(${val})` : val}; }`);
    }
    L.push('}');
  }
  const E = v.half ? 'f16' : 'f32';
  const aType = v.aVec4 ? `vec4<${E}>` : E;
  const bType = v.bVec4 ? `vec4<${E}>` : E;
  const nBuf = v.bias ? 4 : 3;
  return `${v.subgroup ? 'enable subgroups;\n' : ''}@group(0) @binding(0) var<storage, read> A: array<${aType}>;
@group(0) @binding(1) var<storage, read> B: array<${bType}>;
${v.bias ? `@group(0) @binding(2) var<storage, read> bias: array<${E}>;` : ''}
@group(0) @binding(${nBuf - 1}) var<storage, read_write> C: array<${E}>;
${u.declare(nBuf)}
@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>${v.subgroup ? ', @builtin(subgroup_invocation_id) sgid: u32' : ''}) {
  ${L.join('\n  ')}
}`;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
