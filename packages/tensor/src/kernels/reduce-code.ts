import { type DType } from '../dtype.ts';
import { SUBGROUP_ARGS, subgroupTreeCode } from './subgroup-tree.ts';
import { ENTRY_ARGS, UniformLayout } from './uniforms.ts';
import { memoKernel } from './memo.ts';

/**
 * The WGSL of reductions (ops/reduce.ts), built once per key: the key names every parameter the code depends
 * on (layout mode, kind, dtypes, which outputs are bound, ranks), shapes and strides travel in the uniforms.
 */

export type ReduceKind = 'sum' | 'max' | 'min';

/** thread: a thread per output; columns: a thread per (output, chunk); tree / subgroups: a workgroup per (output, chunk). */
export type ReduceMode = 'thread' | 'columns' | 'tree' | 'subgroups';

export const WG = 64;

export interface ReduceVariant {
  mode: ReduceMode;
  kind: ReduceKind;
  /** Input dtype. */
  T: DType;
  /** Accumulator dtype (f32 for f16 inputs). */
  A: DType;
  /** Output dtype: A when writing partials. */
  out: DType;
  /** Writes unscaled partials for a second pass (chunks > 1). */
  partials: boolean;
  /** An index output is bound. */
  index: boolean;
  /** The subgroup tree carries indices (max/min with an index output). */
  withIndex: boolean;
  keptRank: number;
  redRank: number;
}

export function reduceKey(v: ReduceVariant): string {
  return `reduce|${v.mode}|${v.kind}|${v.T}|${v.A}|${v.out}|${v.partials ? 'p' : ''}${v.index ? 'i' : ''}${v.withIndex ? 'w' : ''}|${v.keptRank}|${v.redRank}`;
}

/** The uniform block of a reduction with these ranks of kept and reduced dims. */
export function reduceUniforms(keptRank: number, redRank: number): UniformLayout {
  return memoKernel(`reduce-uniforms|${keptRank}|${redRank}`, () => {
    const kr = Math.max(keptRank, 1);
    const rr = Math.max(redRank, 1);
    return new UniformLayout()
      .field('nOut')
      .field('redSize')
      .field('offset')
      .field('chunks')
      .field('chunkLen')
      .field('scale')
      .field('outOff')
      .field('idxBase')
      .field('outShape', kr)
      .field('outStr', kr)
      .field('redShape', rr)
      .field('redStr', rr);
  });
}

export function reduceCode(v: ReduceVariant): string {
  const { kind, A, T } = v;
  const outDtype = v.out;
  const u = reduceUniforms(v.keptRank, v.redRank);
  const init = kind === 'sum' ? `${A}(0)` : kind === 'max' ? lowest(A) : highest(A);
  const store = (x: string) => (A === 'f32' ? `${outDtype}(${x} * bitcast<f32>(${u.at('scale')}))` : x);
  const combine = combiner(kind);
  const baseCode = offsetCode(u, 'base', 'o', v.keptRank, 'outShape', 'outStr', true);
  const redCode = offsetCode(u, 'ro', 'r', v.redRank, 'redShape', 'redStr', false);
  // Partials are stored as accumulated; only a final store converts and scales.
  const vOut = v.partials;
  const bi = v.index;
  const decl = `@group(0) @binding(0) var<storage, read> x: array<${T}>;
@group(0) @binding(1) var<storage, read_write> outv: array<${vOut ? A : outDtype}>;
${bi ? '@group(0) @binding(2) var<storage, read_write> outi: array<i32>;' : ''}
${u.declare(bi ? 3 : 2)}`;
  const outAt = (o: string) => `${u.at('outOff')} + ${o}`;
  const idxOut = (i: string) => `i32(${i} + ${u.at('idxBase')})`;
  if (v.mode === 'columns') {
    // Thread t reduces chunk t / nOut of output t % nOut, so a warp reads neighbouring outputs (one row of a
    // column reduction) at once; partials are stored chunk-major, coalesced the same way.
    return `${decl}
@compute @workgroup_size(${WG})
fn main(${ENTRY_ARGS}) {
  let t = gid.x + gid.y * nwg.x * ${WG}u;
  let o = t % ${u.at('nOut')};
  let c = t / ${u.at('nOut')};
  if (c >= ${u.at('chunks')}) { return; }
  let r0 = c * ${u.at('chunkLen')};
  let r1 = min(r0 + ${u.at('chunkLen')}, ${u.at('redSize')});
  ${baseCode}
  var acc = ${init};
  var idx = 0x7fffffffu;
  for (var r = r0; r < r1; r++) {
    ${redCode}
    let v = ${A}(x[base + ro]);
    ${combine('acc', 'idx', 'v', 'r')}
  }
  outv[t] = acc;
  ${bi ? `outi[t] = ${idxOut('idx')};` : ''}
}`;
  }
  if (v.mode === 'thread') {
    return `${decl}
@compute @workgroup_size(${WG})
fn main(${ENTRY_ARGS}) {
  let o = gid.x + gid.y * nwg.x * ${WG}u;
  if (o >= ${u.at('nOut')}) { return; }
  ${baseCode}
  var acc = ${init};
  var idx = 0x7fffffffu;
  for (var r = 0u; r < ${u.at('redSize')}; r++) {
    ${redCode}
    let v = ${A}(x[base + ro]);
    ${combine('acc', 'idx', 'v', 'r')}
  }
  outv[${outAt('o')}] = ${vOut ? 'acc' : store('acc')};
  ${bi ? `outi[${outAt('o')}] = ${idxOut('idx')};` : ''}
}`;
  }
  // A workgroup per (output, chunk): each invocation folds every WG-th element of the chunk, then a tree.
  const workgroupLoop = `let w = wid.x + wid.y * nwg.x;
  let o = w / ${u.at('chunks')};
  if (o >= ${u.at('nOut')}) { return; }
  let r0 = (w % ${u.at('chunks')}) * ${u.at('chunkLen')};
  let r1 = min(r0 + ${u.at('chunkLen')}, ${u.at('redSize')});
  ${baseCode}
  var acc = ${init};
  var idx = 0x7fffffffu;
  for (var r = r0 + lid; r < r1; r += ${WG}u) {
    ${redCode}
    let v = ${A}(x[base + ro]);
    ${combine('acc', 'idx', 'v', 'r')}
  }`;
  if (v.mode === 'subgroups') {
    return `enable subgroups;
${decl}
var<workgroup> sv: array<${A}, ${WG}>;
${v.withIndex ? `var<workgroup> si: array<u32, ${WG}>;` : ''}
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, ${SUBGROUP_ARGS}) {
  ${workgroupLoop}
  ${subgroupTreeCode({ op: kind, wg: WG, identity: init, value: 'acc', index: v.withIndex ? 'idx' : undefined, scratch: 'sv', scratchIndex: 'si', lid: 'lid' })}
  if (lid == 0u) {
    outv[${outAt('w')}] = ${vOut ? 'acc' : store('acc')};
    ${bi ? `outi[${outAt('w')}] = ${idxOut('idx')};` : ''}
  }
}`;
  }
  return `${decl}
var<workgroup> sv: array<${A}, ${WG}>;
var<workgroup> si: array<u32, ${WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  ${workgroupLoop}
  sv[lid] = acc;
  si[lid] = idx;
  workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s >>= 1u) {
    if (lid < s) {
      var a = sv[lid];
      var ai = si[lid];
      let b = sv[lid + s];
      let bi = si[lid + s];
      ${combine('a', 'ai', 'b', 'bi')}
      sv[lid] = a;
      si[lid] = ai;
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    outv[${outAt('w')}] = ${vOut ? 'sv[0]' : store('sv[0]')};
    ${bi ? `outi[${outAt('w')}] = ${idxOut('si[0]')};` : ''}
  }
}`;
}

/** The second pass of a chunked reduction: a thread per output folds its chunk partials in chunk order. */
export function partialsUniforms(): UniformLayout {
  return memoKernel('reduce-partials-uniforms', () => new UniformLayout().field('nOut').field('chunks').field('scale').field('outOff').field('oStride').field('cStride'));
}

export function partialsKey(kind: ReduceKind, T: DType, out: DType, withIndex: boolean, index: boolean): string {
  return `reduce-partials|${kind}|${T}|${out}|${withIndex ? 'w' : ''}${index ? 'i' : ''}`;
}

export function partialsCode(kind: ReduceKind, T: DType, out: DType, withIndex: boolean, index: boolean): string {
  const u = partialsUniforms();
  const pi = withIndex;
  const bi = index;
  const final = T === 'f32' ? `${out}(acc * bitcast<f32>(${u.at('scale')}))` : 'acc';
  return `@group(0) @binding(0) var<storage, read> pv: array<${T}>;
${pi ? '@group(0) @binding(1) var<storage, read> pi: array<i32>;' : ''}
@group(0) @binding(${pi ? 2 : 1}) var<storage, read_write> outv: array<${out}>;
${bi ? `@group(0) @binding(${pi ? 3 : 2}) var<storage, read_write> outi: array<i32>;` : ''}
${u.declare(2 + (pi ? 1 : 0) + (bi ? 1 : 0))}
@compute @workgroup_size(${WG})
fn main(${ENTRY_ARGS}) {
  let o = gid.x + gid.y * nwg.x * ${WG}u;
  if (o >= ${u.at('nOut')}) { return; }
  let c0 = o * ${u.at('oStride')};
  let cs = ${u.at('cStride')};
  var acc = pv[c0];
  var idx = ${pi ? 'u32(pi[c0])' : '0u'};
  for (var c = 1u; c < ${u.at('chunks')}; c++) {
    let v = pv[c0 + c * cs];
    let vi = ${pi ? 'u32(pi[c0 + c * cs])' : 'c'};
    ${combiner(kind)('acc', 'idx', 'v', 'vi')}
  }
  outv[${u.at('outOff')} + o] = ${final};
  ${bi ? `outi[${u.at('outOff')} + o] = i32(idx);` : ''}
}`;
}

function combiner(kind: ReduceKind): (acc: string, idx: string, v: string, vi: string) => string {
  const better = kind === 'max' ? '>' : '<';
  return (acc, idx, v, vi) =>
    kind === 'sum'
      ? `${acc} = ${acc} + ${v};`
      : `if (${v} ${better} ${acc} || (${v} == ${acc} && ${vi} < ${idx})) { ${acc} = ${v}; ${idx} = ${vi}; }`;
}

function offsetCode(u: UniformLayout, out: string, index: string, rank: number, shapeF: string, strideF: string, withBase: boolean): string {
  const lines = [`var ${out} = ${withBase ? u.at('offset') : '0u'};`, `{ var rem = ${index};`];
  for (let d = rank - 1; d >= 0; d--) {
    const dim = u.at(shapeF, d);
    // The outermost dim needs no modulo: the index is in range.
    if (d > 0) lines.push(`  ${out} += (rem % ${dim}) * ${u.at(strideF, d)}; rem = rem / ${dim};`);
    else lines.push(`  ${out} += rem * ${u.at(strideF, d)};`);
  }
  lines.push('}');
  return lines.join('\n  ');
}

function lowest(t: DType): string {
  return t === 'f32' ? '-3.4028234e38' : t === 'i32' ? 'i32(-2147483648)' : '0u';
}
function highest(t: DType): string {
  return t === 'f32' ? '3.4028234e38' : t === 'i32' ? '2147483647i' : '4294967295u';
}
