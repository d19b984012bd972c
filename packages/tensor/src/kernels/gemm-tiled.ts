import { batchOffsets, matmulLayout, type MatmulVariant } from './matmul.ts';
import type { UniformLayout } from './uniforms.ts';

/**
 * The GPU-class GEMM core: C[b] = A[b]·B[b] (+ bias) with A and B staged in workgroup memory.
 *
 * A workgroup owns a BM x BN block of C and walks K in steps of BK. Each step, its T = (BM/TM)·(BN/TN)
 * invocations load the BM x BK slice of A and the BK x BN slice of B cooperatively into `var<workgroup>` arrays,
 * wait on a barrier, and each invocation accumulates its TM x TN micro-tile from them in registers (TM + TN
 * shared reads feed TM·TN FMAs). One buffer per operand with two barriers per step (load, compute, barrier
 * before the next overwrite): double buffering would halve the barriers but double the memory; not yet worth it.
 *
 * Invocation (tx, ty), tx fastest, owns rows ty + i·(BM/TM) and columns tx + j·(BN/TN) (strided, not a
 * contiguous 4x4 square): neighbouring invocations then read neighbouring words of the B tile (no bank
 * conflicts), share one A word per row (a broadcast), and store neighbouring columns of C (coalesced).
 * A is stored transposed in shared memory (As[k][m]) so the compute loop reads both tiles along their fast
 * axis; rows of both tiles are padded by one word, so a load pass that writes down a column (k fastest)
 * lands each write in a different bank.
 *
 * Nothing assumes a subgroup size. Every barrier sits in uniform control flow: the K loop's bound is a uniform
 * and every invocation runs every iteration; out-of-range rows, columns and k are loaded as zeros (masked
 * loads from clamped addresses) and masked only at the store, so shapes need not be multiples of any tile.
 * Each output element still sums k = 0, 1, ..., K-1 in order with one fma per k, so its value does not depend
 * on the tile it falls in (slicing an op along M or N gives bit-identical results).
 */
export interface TiledGemmConfig {
  kind: 'tiled';
  /** Block rows (M) and columns (N) of C per workgroup. */
  bm: number;
  bn: number;
  /** k per shared-memory step (a multiple of 4, for vec4 loads along k). */
  bk: number;
  /** Rows and columns of each invocation's register micro-tile. */
  tm: number;
  tn: number;
}

/** How each tile is loaded from global memory: vec4 along k, scalars with k, m (A) or n (B) fastest, or the hook. */
export interface TiledReads {
  a: 'v4' | 'k' | 'm';
  b: 'v4' | 'k' | 'n' | 'hook';
}

/** The coalescing order of each operand's loads, from its strides (the unit-stride axis goes fastest). */
export function tiledReads(v: MatmulVariant, s: { sAm: number; sAk: number; sBk: number; sBn: number }): TiledReads {
  const a = v.aVec4 ? 'v4' : s.sAm === 1 && s.sAk !== 1 ? 'm' : 'k';
  const b = v.bHook ? 'hook' : v.bVec4 ? 'v4' : s.sBk === 1 && s.sBn !== 1 ? 'k' : 'n';
  return { a, b };
}

export const tiledThreads = (c: TiledGemmConfig) => (c.bm / c.tm) * (c.bn / c.tn);

/** Bytes of workgroup memory: both tiles in f32, rows padded by one word. */
export const tiledSharedBytes = (c: TiledGemmConfig) => 4 * c.bk * (c.bm + 1 + c.bn + 1);

/** Why a config cannot run on a device with these limits (null when it can). */
export function tiledConfigError(c: TiledGemmConfig, limits: { maxComputeWorkgroupStorageSize: number; maxComputeInvocationsPerWorkgroup: number; maxComputeWorkgroupSizeX: number }): string | null {
  const ints = [c.bm, c.bn, c.bk, c.tm, c.tn];
  if (!ints.every((x) => Number.isInteger(x) && x > 0)) return 'tile sizes must be positive integers';
  if (c.bm % c.tm !== 0 || c.bn % c.tn !== 0) return `micro-tile ${c.tm}x${c.tn} must divide the block ${c.bm}x${c.bn}`;
  if (c.bk % 4 !== 0) return `bk ${c.bk} must be a multiple of 4`;
  const t = tiledThreads(c);
  if (t > limits.maxComputeInvocationsPerWorkgroup || t > limits.maxComputeWorkgroupSizeX) return `${t} invocations exceed the device's workgroup size`;
  const bytes = tiledSharedBytes(c);
  if (bytes > limits.maxComputeWorkgroupStorageSize) return `${bytes} bytes of workgroup memory exceed the device's ${limits.maxComputeWorkgroupStorageSize}`;
  return null;
}

export function tiledLayout(v: MatmulVariant): UniformLayout {
  return matmulLayout(v.batchRank, v.bHook);
}

/** A short name for tiledGemmCode(cfg, v, reads): every field the code depends on. */
export function tiledGemmKey(c: TiledGemmConfig, v: MatmulVariant, r: TiledReads): string {
  const f = (b: boolean | undefined) => (b ? 1 : 0);
  return `gemmTiled|${c.bm},${c.bn},${c.bk},${c.tm},${c.tn}|${r.a},${r.b}|${f(v.bias)}${f(v.biasRows)}${f(v.half)}|${v.batchRank}|${v.bHook?.key ?? ''}`;
}

export function tiledGemmCode(c: TiledGemmConfig, v: MatmulVariant, r: TiledReads): string {
  const { bm, bn, bk, tm, tn } = c;
  const T = tiledThreads(c);
  const hook = v.bHook;
  if ((r.b === 'hook') !== (hook !== undefined)) throw new Error('gemmTiled: a B hook needs hook reads');
  const u = tiledLayout(v);
  const U = (name: string, i = 0) => u.at(name, i);
  const rm = bm / tm; // invocations along M (row stride of the micro-tile)
  const rn = bn / tn; // invocations along N
  const sa = bm + 1; // padded row length of As[k][m]
  const sb = bn + 1; // padded row length of Bs[k][n]
  const w = (x: string) => (v.half ? `f32(${x})` : x);
  const w4 = (x: string) => (v.half ? `vec4<f32>(${x})` : x);
  const L: string[] = [];

  L.push(...batchOffsets(u, v.batchRank));
  L.push(`let row0 = (wid.y + ${U('rowBase')}) * ${bm}u;`, `let col0 = wid.x * ${bn}u;`);
  L.push(`let t = lid.x;`, `let tx = t % ${rn}u;`, `let ty = t / ${rn}u;`);
  L.push(`let M = ${U('M')};`, `let N = ${U('N')};`, `let K = ${U('K')};`);
  for (let i = 0; i < tm; i++) for (let j = 0; j < tn; j++) L.push(`var c${i}_${j} = 0.0;`);

  // Cooperative loads: element e of a tile goes to invocation e % T, pass e / T; the mapping of e to (row, k)
  // puts the operand's unit-stride axis fastest, so neighbouring invocations read neighbouring addresses.
  const passes = (count: number, body: (e: string) => string[]) => {
    const out: string[] = [];
    for (let s = 0; s * T < count; s++) {
      const guard = (s + 1) * T > count; // the last pass of a count that T does not divide
      const lines = [`let e = t + ${s * T}u;`, ...body('e')];
      out.push(guard ? `if (t + ${s * T}u < ${count}u) {` : '{', ...lines.map((x) => '  ' + x), '}');
    }
    return out;
  };
  const loadA: string[] =
    r.a === 'v4'
      ? passes((bm * bk) / 4, (e) => [
          // Four k at once (A's k stride is 1, K % 4 == 0: a group is wholly inside K or wholly past it).
          `let m = ${e} / ${bk / 4}u; let kq = (${e} % ${bk / 4}u) * 4u;`,
          `let gm = row0 + m; let gk = k0 + kq;`,
          `let ok = gm < M && gk < K;`,
          `let x = select(vec4<f32>(0.0), ${w4(`A[(offA + min(gm, M - 1u) * ${U('sAm')} + min(gk, K - 4u)) >> 2u]`)}, ok);`,
          ...[0, 1, 2, 3].map((q) => `As[(kq + ${q}u) * ${sa}u + m] = x[${q}];`),
        ])
      : passes(bm * bk, (e) => [
          r.a === 'k' ? `let m = ${e} / ${bk}u; let kk = ${e} % ${bk}u;` : `let m = ${e} % ${bm}u; let kk = ${e} / ${bm}u;`,
          `let gm = row0 + m; let gk = k0 + kk;`,
          `let ok = gm < M && gk < K;`,
          `As[kk * ${sa}u + m] = select(0.0, ${w(`A[offA + min(gm, M - 1u) * ${U('sAm')} + min(gk, K - 1u) * ${U('sAk')}]`)}, ok);`,
        ]);
  let loadB: string[];
  if (r.b === 'v4') {
    loadB = passes((bn * bk) / 4, (e) => [
      `let n = ${e} / ${bk / 4}u; let kq = (${e} % ${bk / 4}u) * 4u;`,
      `let gn = col0 + n; let gk = k0 + kq;`,
      `let ok = gn < N && gk < K;`,
      `let x = select(vec4<f32>(0.0), ${w4(`B[(offB + min(gn, N - 1u) * ${U('sBn')} + min(gk, K - 4u)) >> 2u]`)}, ok);`,
      ...[0, 1, 2, 3].map((q) => `Bs[(kq + ${q}u) * ${sb}u + n] = x[${q}];`),
    ]);
  } else {
    loadB = passes(bn * bk, (e) => {
      const idx = r.b === 'k' ? `let n = ${e} / ${bk}u; let kk = ${e} % ${bk}u;` : `let n = ${e} % ${bn}u; let kk = ${e} / ${bn}u;`;
      const head = [idx, `let gn = col0 + n; let gk = k0 + kk;`, `let ok = gn < N && gk < K;`];
      if (hook) return [...head, ...hook.at(u, 'min(gk, K - 1u)', 'min(gn, N - 1u)', 'offB', 'hv'), `Bs[kk * ${sb}u + n] = select(0.0, hv, ok);`];
      return [...head, `Bs[kk * ${sb}u + n] = select(0.0, ${w(`B[offB + min(gn, N - 1u) * ${U('sBn')} + min(gk, K - 1u) * ${U('sBk')}]`)}, ok);`];
    });
  }

  // The K loop: its bound is a uniform, so the barriers inside are in uniform control flow.
  L.push(`for (var k0 = 0u; k0 < K; k0 += ${bk}u) {`);
  L.push(...loadA.map((x) => '  ' + x), ...loadB.map((x) => '  ' + x));
  L.push('  workgroupBarrier();');
  L.push(`  for (var kk = 0u; kk < ${bk}u; kk++) {`);
  for (let i = 0; i < tm; i++) L.push(`    let a${i} = As[kk * ${sa}u + ty + ${i * rm}u];`);
  for (let j = 0; j < tn; j++) L.push(`    let b${j} = Bs[kk * ${sb}u + tx + ${j * rn}u];`);
  for (let i = 0; i < tm; i++) for (let j = 0; j < tn; j++) L.push(`    c${i}_${j} = fma(a${i}, b${j}, c${i}_${j});`);
  L.push('  }');
  // The next step overwrites the tiles: every invocation must be done reading them.
  L.push('  workgroupBarrier();');
  L.push('}');

  // Epilogue: bias, masked store into the contiguous output.
  L.push(`let outBase = batch * M * N;`);
  for (let j = 0; j < tn; j++) {
    L.push(`let n${j} = col0 + tx + ${j * rn}u;`);
    if (v.bias && !v.biasRows) L.push(`let bias${j} = ${w(`bias[${U('offBias')} + min(n${j}, N - 1u) * ${U('sBias')}]`)};`);
  }
  for (let i = 0; i < tm; i++) {
    L.push(`{ let m = row0 + ty + ${i * rm}u;`, '  if (m < M) {');
    if (v.bias && v.biasRows) L.push(`    let biasR = ${w(`bias[${U('offBias')} + m * ${U('sBias')}]`)};`);
    for (let j = 0; j < tn; j++) {
      const val = v.bias ? `c${i}_${j} + ${v.biasRows ? 'biasR' : `bias${j}`}` : `c${i}_${j}`;
      L.push(`    if (n${j} < N) { C[outBase + m * N + n${j}] = ${v.half ? `f16(${val})` : val}; }`);
    }
    L.push('  }', '}');
  }

  const E = v.half ? 'f16' : 'f32';
  const aType = r.a === 'v4' ? `vec4<${E}>` : E;
  const bType = r.b === 'v4' ? `vec4<${E}>` : E;
  const nBuf = v.bias ? 4 : 3;
  return `@group(0) @binding(0) var<storage, read> A: array<${aType}>;
@group(0) @binding(1) var<storage, read> B: array<${bType}>;
${v.bias ? `@group(0) @binding(2) var<storage, read> bias: array<${E}>;` : ''}
@group(0) @binding(${nBuf - 1}) var<storage, read_write> C: array<${E}>;
${u.declare(nBuf)}
var<workgroup> As: array<f32, ${bk * sa}>;
var<workgroup> Bs: array<f32, ${bk * sb}>;
@compute @workgroup_size(${T})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  ${L.join('\n  ')}
}`;
}
