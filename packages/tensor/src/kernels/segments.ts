import { engine } from '../runtime/engine.ts';
import { Tensor } from '../tensor.ts';
import { bindView } from './binding.ts';
import { ceilDiv, perElementMain, UniformLayout } from './uniforms.ts';

/**
 * Groups the positions of a 1-D index by target, without atomics (CSR): for each target t < n, the positions
 * k with index[k] == t are order[offsets[t] .. offsets[t + 1]), in increasing k. Indices outside [0, n) are
 * left out. Built by three small kernels: count per target, one-workgroup exclusive scan, fill per target.
 * Cost O(n·K) index reads, independent of how wide the rows that the index selects are.
 */
export interface Segments {
  /** n + 1 u32 entries. */
  offsets: Tensor;
  /** K u32 entries (the first offsets[n] are meaningful). */
  order: Tensor;
}

const WG = 256;

export function indexSegments(index: Tensor, n: number): Segments {
  const K = index.size;
  const counts = Tensor.empty([Math.max(n, 1)], 'u32', 'segments');
  const offsets = Tensor.empty([n + 1], 'u32', 'segments');
  const order = Tensor.empty([Math.max(K, 1)], 'u32', 'segments');
  const e = engine();
  const u = new UniformLayout().field('n').field('K').field('iOff').field('iStr').field('block');
  // The index is read whole by every target: a view of a larger buffer is bound as the window it spans.
  const bi = bindView(index, 'segments');
  const [bc, bo, br] = [counts, offsets, order].map((t) => bindView(t, 'segments').resource);
  const uniforms = u.pack({ n, K, iOff: bi.offset, iStr: index.rank === 1 ? index.strides[0] : 0, block: ceilDiv(n, WG) });
  const idxDecl = `@group(0) @binding(0) var<storage, read> idx: array<${index.dtype}>;`;
  const at = (k: string) => `u32(idx[${u.at('iOff')} + ${k} * ${u.at('iStr')}])`;
  e.dispatch({
    label: 'segments_count',
    key: `segments_count|${index.dtype}`,
    code: () => `${idxDecl}
@group(0) @binding(1) var<storage, read_write> counts: array<u32>;
${u.declare(2)}
${perElementMain(WG, u)}
  var c = 0u;
  for (var k = 0u; k < ${u.at('K')}; k++) { if (${at('k')} == gidx) { c++; } }
  counts[gidx] = c;
}`,
    buffers: [bi.resource, bc],
    uniforms,
    workgroups: ceilDiv(n, WG),
  });
  // Each of 256 threads scans a block of `block` targets; thread 0 scans the 256 block totals in between.
  e.dispatch({
    label: 'segments_scan',
    key: 'segments_scan',
    code: () => `@group(0) @binding(0) var<storage, read> counts: array<u32>;
@group(0) @binding(1) var<storage, read_write> offsets: array<u32>;
${u.declare(2)}
var<workgroup> part: array<u32, ${WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_index) lid: u32) {
  let n = ${u.at('n')};
  let lo = min(lid * ${u.at('block')}, n);
  let hi = min(lo + ${u.at('block')}, n);
  var s = 0u;
  for (var t = lo; t < hi; t++) { s += counts[t]; }
  part[lid] = s;
  workgroupBarrier();
  if (lid == 0u) {
    var total = 0u;
    for (var i = 0u; i < ${WG}u; i++) { let v = part[i]; part[i] = total; total += v; }
    offsets[n] = total;
  }
  workgroupBarrier();
  var run = part[lid];
  for (var t = lo; t < hi; t++) { offsets[t] = run; run += counts[t]; }
}`,
    buffers: [bc, bo],
    uniforms,
    workgroups: 1,
  });
  e.dispatch({
    label: 'segments_fill',
    key: `segments_fill|${index.dtype}`,
    code: () => `${idxDecl}
@group(0) @binding(1) var<storage, read> offsets: array<u32>;
@group(0) @binding(2) var<storage, read_write> order: array<u32>;
${u.declare(3)}
${perElementMain(WG, u)}
  var p = offsets[gidx];
  for (var k = 0u; k < ${u.at('K')}; k++) { if (${at('k')} == gidx) { order[p] = k; p++; } }
}`,
    buffers: [bi.resource, bo, br],
    uniforms,
    workgroups: ceilDiv(n, WG),
  });
  counts.dispose();
  return { offsets, order };
}
