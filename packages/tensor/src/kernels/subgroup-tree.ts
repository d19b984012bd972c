import { engine } from '../runtime/engine.ts';

/**
 * Workgroup reductions through subgroup operations, for GPU-class adapters with the `subgroups` feature: each
 * subgroup reduces its lanes in registers, one value per subgroup goes through workgroup memory, and every
 * subgroup then reduces those values again, so every invocation ends with the result after a single barrier
 * (the plain tree needs log2(WG) barriers).
 *
 * Nothing assumes a subgroup size or which invocations share a subgroup (WGSL promises neither): lane 0 of
 * each subgroup stores its result at its own local index and every other invocation stores the identity at
 * its own, so the scratch array holds exactly one value per subgroup whatever the sizes (4 to 128, partial
 * subgroups included) and however invocations are grouped.
 */

let allowed = true;

/** Turns the subgroup trees off (or back on where they apply): for tests of the plain trees on this adapter. */
export function setReductionSubgroups(on: boolean): void {
  allowed = on;
}

/**
 * Whether reductions and row kernels use subgroup trees now: GPU class and the device has the feature. CPU
 * rasterizers keep their kernels (they run a workgroup as one thread, where the plain tree is already cheap).
 */
export function subgroupTrees(): boolean {
  const e = engine();
  return allowed && !e.isCpu && e.hasFeature('subgroups');
}

/** Entry-point parameters the subgroup tree reads. */
export const SUBGROUP_ARGS = '@builtin(subgroup_invocation_id) sgid: u32, @builtin(subgroup_size) sgsize: u32';

export type TreeOp = 'sum' | 'max' | 'min';

export interface SubgroupTree {
  op: TreeOp;
  /** Workgroup size: the scratch arrays hold this many entries. */
  wg: number;
  /** The identity of `op` in the values' type (f32, i32, u32, or vec2<f32> for sums). */
  identity: string;
  /** A `var` of this invocation's partial value; it holds the workgroup's result afterwards. */
  value: string;
  /** A `var` (u32) of the partial's index: max/min keep the smallest index among equal values. */
  index?: string;
  /** `var<workgroup>` arrays of `wg` values (and u32 indices), free for this reduction. */
  scratch: string;
  scratchIndex?: string;
  /** The local invocation index (local_invocation_index). */
  lid: string;
}

/**
 * WGSL statements reducing `value` (and `index`) over the workgroup; every invocation ends with the result.
 * Must run in workgroup-uniform control flow. The scratch arrays are read after the barrier: a caller that
 * reuses them must place a barrier between this reduction's reads and the next writes.
 */
export function subgroupTreeCode(t: SubgroupTree): string {
  const { value: v, index: i, scratch: sv, scratchIndex: si, lid } = t;
  if (t.index !== undefined && (t.op === 'sum' || si === undefined)) throw new Error('subgroupTreeCode: an index needs max or min and an index scratch array');
  const reduceSubgroup = (): string => {
    if (t.op === 'sum') return `${v} = subgroupAdd(${v});`;
    const f = t.op === 'max' ? 'subgroupMax' : 'subgroupMin';
    if (i === undefined) return `${v} = ${f}(${v});`;
    // The best value, then the smallest index among the lanes that hold it: the first index of ties.
    return `{ let best = ${f}(${v}); ${i} = subgroupMin(select(0xffffffffu, ${i}, ${v} == best)); ${v} = best; }`;
  };
  const fold = (b: string, bi: string): string => {
    if (t.op === 'sum') return `${v} = ${v} + ${b};`;
    if (i === undefined) return `${v} = ${t.op}(${v}, ${b});`;
    const better = t.op === 'max' ? '>' : '<';
    return `if (${b} ${better} ${v} || (${b} == ${v} && ${bi} < ${i})) { ${v} = ${b}; ${i} = ${bi}; }`;
  };
  const lines = [
    reduceSubgroup(),
    `${sv}[${lid}] = select(${t.identity}, ${v}, sgid == 0u);`,
    ...(i !== undefined ? [`${si}[${lid}] = select(0x7fffffffu, ${i}, sgid == 0u);`] : []),
    'workgroupBarrier();',
    `${v} = ${t.identity};`,
    ...(i !== undefined ? [`${i} = 0x7fffffffu;`] : []),
    // Each lane folds every sgsize-th slot; the slots of other subgroups' non-leaders hold the identity.
    `for (var k = sgid; k < ${t.wg}u; k += sgsize) { ${fold(`${sv}[k]`, i !== undefined ? `${si}[k]` : '')} }`,
    reduceSubgroup(),
  ];
  return lines.join('\n  ');
}
