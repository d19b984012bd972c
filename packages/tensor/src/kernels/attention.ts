import { UniformLayout } from './uniforms.ts';

/**
 * Shared pieces of the fused attention kernels (forward, dq pass, dk/dv pass).
 *
 * Every kernel has the same shape: an invocation owns one "lane row" (a query, or a key in the dk/dv pass) and
 * keeps that row's vectors and accumulators in registers as vec4 chunks (d is a template constant); it walks
 * the other side's rows (the "stream") in blocks of `bc`. No N×N matrix is ever stored: scores live in
 * registers for one block at a time.
 *
 * Storage is f32 or f16 (`KernelShape.dtype`: q, k, v, O, dO and the row outputs); everything inside is f32:
 * halves are widened on load (the workgroup tiles and subgroup broadcasts carry f32) and rounded once at the
 * store. The log-sum-exp and D stay f32 whatever the storage, as they feed exp() of differences.
 *
 * Stream rows are the same for every invocation of a workgroup, which is where the two modes differ:
 * - 'subgroup' (CPU adapters): on llvmpipe a same-address load is still a load per lane, so lane l of each
 *   subgroup loads vec4 chunk l (8 chunks per slot) of the stream row and subgroupBroadcast hands each chunk
 *   to all lanes: one register shuffle instead of eight loads.
 * - 'shared' (GPUs, and anywhere without subgroups): the workgroup copies a block of stream rows into
 *   workgroup memory between barriers and every invocation reads it (a broadcast read on a GPU).
 */
export interface AttentionConfig {
  mode: 'subgroup' | 'shared';
  /** Invocations (lane rows) per workgroup. */
  wg: number;
  /** Stream rows per block (scores held in registers at once). */
  bc: number;
}

/** A strided (B, H, N, d) operand read in place: bound as vec4 where its d stride is 1 and all is 4-aligned. */
export interface StridedOperand {
  name: string;
  vec4: boolean;
}

/** Storage type of the strided operands and the row outputs. */
export type AttentionDType = 'f32' | 'f16';

export interface KernelShape {
  d: number;
  dtype: AttentionDType;
  cfg: AttentionConfig;
  strided: StridedOperand[];
  /** Plain contiguous (B·H, N) f32 inputs, indexed zN + row (log-sum-exp, D). */
  plain: string[];
  /** Contiguous outputs: `rows` are (B·H, N, d), `scalars` (B·H, N). */
  outRows: string[];
  outScalars: string[];
}

export const chunks = (d: number) => Math.ceil(d / 4);
export const range = (n: number) => Array.from({ length: n }, (_, i) => i);

export function attentionLayout(strided: readonly StridedOperand[]): UniformLayout {
  const u = new UniformLayout().field('N').field('H').field('zBase').field('scale');
  for (const s of strided) u.field(`off_${s.name}`).field(`sb_${s.name}`).field(`sh_${s.name}`).field(`sn_${s.name}`).field(`sd_${s.name}`);
  return u;
}

/** Bindings (inputs, then outputs), uniforms, the per-operand base and `ld4_x(row, chunk)` loaders. */
export function declarations(k: KernelShape, u: UniformLayout): string {
  const { d, dtype: st } = k;
  const L: string[] = [];
  let b = 0;
  for (const s of k.strided) L.push(`@group(0) @binding(${b++}) var<storage, read> B_${s.name}: array<${s.vec4 ? `vec4<${st}>` : st}>;`);
  for (const p of k.plain) L.push(`@group(0) @binding(${b++}) var<storage, read> ${p}: array<f32>;`);
  for (const o of k.outRows) L.push(`@group(0) @binding(${b++}) var<storage, read_write> ${o}: array<${st}>;`);
  for (const o of k.outScalars) L.push(`@group(0) @binding(${b++}) var<storage, read_write> ${o}: array<f32>;`);
  // Widens a loaded value to f32 (nothing to do for f32 storage).
  const wide = (x: string, vec: boolean) => (st === 'f32' ? x : vec ? `vec4<f32>(${x})` : `f32(${x})`);
  L.push(u.declare(b));
  L.push(`fn NN() -> u32 { return ${u.at('N')}; }`);
  L.push(`fn HH() -> u32 { return ${u.at('H')}; }`);
  L.push(`fn SCALE() -> f32 { return bitcast<f32>(${u.at('scale')}); }`);
  for (const s of k.strided) {
    const x = s.name;
    L.push(`var<private> bs_${x}: u32;`);
    L.push(`fn set_base_${x}(z: u32) { bs_${x} = ${u.at(`off_${x}`)} + (z / ${u.at('H')}) * ${u.at(`sb_${x}`)} + (z % ${u.at('H')}) * ${u.at(`sh_${x}`)}; }`);
    if (s.vec4) {
      L.push(`fn ld4_${x}(row: u32, ch: u32) -> vec4<f32> { return ${wide(`B_${x}[((bs_${x} + row * ${u.at(`sn_${x}`)}) >> 2u) + ch]`, true)}; }`);
    } else {
      // Components past d read a clamped index and are zeroed, so a partial last chunk adds nothing.
      const el = (i: number) =>
        `select(0.0, ${wide(`B_${x}[b + min(c + ${i}u, ${d - 1}u) * ${u.at(`sd_${x}`)}]`, false)}, c + ${i}u < ${d}u)`;
      L.push(
        `fn ld4_${x}(row: u32, ch: u32) -> vec4<f32> { let b = bs_${x} + row * ${u.at(`sn_${x}`)}; let c = ch * 4u; ` +
          `return vec4<f32>(${range(4).map(el).join(', ')}); }`,
      );
    }
  }
  return L.join('\n');
}

/**
 * Where the kernel reads stream rows from; see the modes above. `jj` is a WGSL u32 expression for the row
 * within the block (a constant in the unrolled forward, a loop variable in the backward passes); `tag` names
 * the row's registers.
 */
export interface Stream {
  /** Module-scope declarations (workgroup tiles). */
  decl: string[];
  /** Per-block prologue for the block starting at row `j0`. */
  block: string[];
  /** Per-row preparation before `v4` of that row is used. */
  row(t: string, jj: string, tag: string): string[];
  /** vec4 chunk `ch` of operand `t` in stream row j0 + jj. */
  v4(t: string, jj: string, ch: number, tag: string): string;
  /** Value of plain operand `p` at stream row j0 + jj. */
  scalar(p: string, jj: string): string;
}

/** Stream through subgroup broadcasts: lane l loads chunk 8s + l of slot s, the other lanes receive it. */
export function subgroupStream(d: number): Stream {
  const d4 = chunks(d);
  const slots = Math.ceil(d4 / 8);
  return {
    decl: [],
    block: [],
    row: (t, jj, tag) => range(slots).map((s) => `let L_${t}${tag}_${s} = ld4_${t}(min(j0 + ${jj}, NN() - 1u), min(${s * 8}u + lane8, ${d4 - 1}u));`),
    v4: (t, _jj, ch, tag) => `subgroupBroadcast(L_${t}${tag}_${ch >> 3}, ${ch & 7}u)`,
    // Two scalars per row: a plain (per-lane) load costs less than sharing them.
    scalar: (p, jj) => `${p}[zN + min(j0 + ${jj}, NN() - 1u)]`,
  };
}

/** Stream through workgroup memory: the block is copied cooperatively between two barriers. */
export function sharedStream(d: number, cfg: AttentionConfig, vectors: string[], scalars: string[]): Stream {
  const d4 = chunks(d);
  const { bc, wg } = cfg;
  const decl = [
    ...vectors.map((t) => `var<workgroup> T_${t}: array<vec4<f32>, ${bc * d4}>;`),
    ...scalars.map((p) => `var<workgroup> T_${p}: array<f32, ${bc}>;`),
  ];
  // The first barrier keeps this block's writes from overtaking the previous block's reads.
  const block = ['workgroupBarrier();'];
  block.push(`for (var e = lid; e < ${bc * d4}u; e += ${wg}u) {`);
  block.push(`  let jr = min(j0 + e / ${d4}u, NN() - 1u);`);
  for (const t of vectors) block.push(`  T_${t}[e] = ld4_${t}(jr, e % ${d4}u);`);
  block.push('}');
  if (scalars.length) {
    block.push(`for (var e = lid; e < ${bc}u; e += ${wg}u) {`);
    for (const p of scalars) block.push(`  T_${p}[e] = ${p}[zN + min(j0 + e, NN() - 1u)];`);
    block.push('}');
  }
  block.push('workgroupBarrier();');
  return {
    decl,
    block,
    row: () => [],
    v4: (t, jj, ch) => `T_${t}[(${jj}) * ${d4}u + ${ch}u]`,
    scalar: (p, jj) => `T_${p}[${jj}]`,
  };
}

export function makeStream(k: KernelShape, vectors: string[], scalars: string[]): Stream {
  return k.cfg.mode === 'subgroup' ? subgroupStream(k.d) : sharedStream(k.d, k.cfg, vectors, scalars);
}

/** Σ over chunks of a·b as one vec4 chain, summed at the end. */
export function dotChunks(d: number, a: (ch: number) => string, b: (ch: number) => string, out: string): string[] {
  const L = [`var ${out}_a = vec4<f32>(0.0);`];
  for (const ch of range(chunks(d))) L.push(`${out}_a = fma(${a(ch)}, ${b(ch)}, ${out}_a);`);
  L.push(`let ${out} = ${out}_a.x + ${out}_a.y + ${out}_a.z + ${out}_a.w;`);
  return L;
}

/**
 * Wraps a kernel body: entry point, lane row `r` (clamped; `i` the real index), batch-head `z`, operand
 * bases, and the stream loop header helpers.
 */
export function kernelModule(k: KernelShape, u: UniformLayout, stream: Stream, body: string[]): string {
  const sg = k.cfg.mode === 'subgroup';
  const args = [
    '@builtin(workgroup_id) wid: vec3<u32>',
    '@builtin(local_invocation_index) lid: u32',
    ...(sg ? ['@builtin(subgroup_invocation_id) sgid: u32'] : []),
  ];
  const pre = [
    `let z = wid.z + ${u.at('zBase')};`,
    'let zN = z * NN();',
    ...k.strided.map((s) => `set_base_${s.name}(z);`),
    `let i = wid.x * ${k.cfg.wg}u + lid;`,
    'let r = min(i, NN() - 1u);',
    ...(sg ? ['let lane8 = sgid & 7u;'] : []),
  ];
  return `${sg ? 'enable subgroups;\n' : ''}${declarations(k, u)}
${stream.decl.join('\n')}
@compute @workgroup_size(${k.cfg.wg})
fn main(${args.join(', ')}) {
  ${[...pre, ...body].join('\n  ')}
}`;
}

/** The row index of lane row i in a contiguous (B·H, N, d) output. */
export const HEAD_MAJOR_ROW = '(zN + i)';
/** The row index of lane row i in a (B, N, H, d) output: heads side by side, as the projection after attention reads them. */
export const TOKEN_MAJOR_ROW = '(((z / HH()) * NN() + i) * HH() + z % HH())';

/**
 * Stores a lane row's f32 vec4 chunks into row `row` of a (rows, d) output of `k.dtype`, dropping components
 * past d: the one rounding to halves happens here.
 */
export function storeRow(k: KernelShape, out: string, value: (ch: number) => string, row = HEAD_MAJOR_ROW): string[] {
  const { d } = k;
  const L: string[] = [];
  for (const ch of range(chunks(d))) {
    L.push(`{ let w = ${k.dtype === 'f32' ? value(ch) : `vec4<f16>(${value(ch)})`};`);
    for (const c of range(4)) if (ch * 4 + c < d) L.push(`  ${out}[${row} * ${d}u + ${ch * 4 + c}u] = w[${c}];`);
    L.push('}');
  }
  return L;
}
