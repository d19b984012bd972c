import { TensorError } from '../errors.ts';
import { formatShape, shapesEqual } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { assertDense, denseInput } from './fused.ts';
import { defineMulti, launchMulti, type MultiItem } from './multi.ts';

// PyTorch order: k*m + q*(1-m), each scalar a float32 of its float64 value. Several pairs per dispatch.
const BUFFERS = (srcType: 'f32' | 'f16') =>
  [
    { name: 'src', access: 'read', offset: 'sOff', type: srcType },
    { name: 'dst', access: 'read_write', offset: 'dOff' },
  ] as const;
const FIELDS = [
  { name: 'sOff', kind: 'u32' },
  { name: 'dOff', kind: 'u32' },
  { name: 'm', kind: 'f32' },
  { name: 'om', kind: 'f32' },
] as const;
const EMA = defineMulti('ema', BUFFERS('f32'), FIELDS, 'dst[dOff + i] = dst[dOff + i] * m + src[sOff + i] * om;');
// An f16 source (a mixed-precision model's parameter) is widened exactly; the average itself stays f32.
const EMA_HALF_SOURCE = defineMulti('ema_half_source', BUFFERS('f16'), FIELDS, 'dst[dOff + i] = dst[dOff + i] * m + f32(src[sOff + i]) * om;');

export type TensorSet = readonly Tensor[] | ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>;

function pairs(target: TensorSet, source: TensorSet): [string, Tensor, Tensor][] {
  const asEntries = (s: TensorSet): [string, Tensor][] =>
    Array.isArray(s) ? s.map((t, i) => [String(i), t]) : s instanceof Map ? [...s] : Object.entries(s as Record<string, Tensor>);
  const t = asEntries(target);
  const s = asEntries(source);
  if (Array.isArray(target) !== Array.isArray(source)) throw new TensorError('ema', 'target and source must both be arrays or both be named');
  if (t.length !== s.length) throw new TensorError('ema', `target has ${t.length} tensors, source ${s.length}`);
  if (Array.isArray(target)) return t.map(([k, v], i) => [k, v, s[i][1]]);
  const byName = new Map(s);
  return t.map(([k, v]) => {
    const src = byName.get(k);
    if (!src) throw new TensorError('ema', `source has no tensor named ${k}`);
    return [k, v, src];
  });
}

/**
 * target ← momentum·target + (1−momentum)·source, in place, several tensor pairs per dispatch; arrays pair by position,
 * maps and records by name. Targets are f32; a source may be f16. Never recorded by autograd.
 */
export function ema(target: TensorSet, source: TensorSet, momentum: number): void {
  if (!(momentum >= 0 && momentum <= 1)) throw new TensorError('ema', `momentum must be in [0, 1], got ${momentum}`);
  const items: MultiItem[] = [];
  const halfItems: MultiItem[] = [];
  const owned: Tensor[] = [];
  try {
    for (const [name, k, q] of pairs(target, source)) {
      if (!shapesEqual(k.shape, q.shape)) {
        throw new TensorError('ema', `${name}: target ${formatShape(k.shape)} and source ${formatShape(q.shape)} differ`);
      }
      if (k.dtype === 'f16') {
        // An f16 average drops every update below half an f16 step (most of them, at momentum 0.999).
        throw new TensorError('ema', `target ${name} is f16; keep the average in f32 (an f16 source is fine)`);
      }
      assertDense('ema', k, `target ${name}`);
      const s = denseInput(q);
      if (s.owned) owned.push(s.t);
      (s.t.dtype === 'f16' ? halfItems : items).push({ buffers: [s.t.buffer, k.buffer], values: { sOff: s.t.offset, dOff: k.offset, m: momentum, om: 1 - momentum }, n: k.size });
    }
    launchMulti(EMA, items);
    launchMulti(EMA_HALF_SOURCE, halfItems);
  } finally {
    for (const t of owned) t.dispose();
  }
}
