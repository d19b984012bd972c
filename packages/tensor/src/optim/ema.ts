import { TensorError } from '../errors.ts';
import { formatShape, shapesEqual } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { assertDense, denseInput } from './fused.ts';
import { defineMulti, launchMulti, type MultiItem } from './multi.ts';

// PyTorch order: k*m + q*(1-m), each scalar a float32 of its float64 value. Several pairs per dispatch.
const EMA = defineMulti(
  'ema',
  [
    { name: 'src', access: 'read', offset: 'sOff' },
    { name: 'dst', access: 'read_write', offset: 'dOff' },
  ],
  [
    { name: 'sOff', kind: 'u32' },
    { name: 'dOff', kind: 'u32' },
    { name: 'm', kind: 'f32' },
    { name: 'om', kind: 'f32' },
  ],
  'dst[dOff + i] = dst[dOff + i] * m + src[sOff + i] * om;',
);

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
 * maps and records by name. Never recorded by autograd.
 */
export function ema(target: TensorSet, source: TensorSet, momentum: number): void {
  if (!(momentum >= 0 && momentum <= 1)) throw new TensorError('ema', `momentum must be in [0, 1], got ${momentum}`);
  const items: MultiItem[] = [];
  const owned: Tensor[] = [];
  try {
    for (const [name, k, q] of pairs(target, source)) {
      if (!shapesEqual(k.shape, q.shape)) {
        throw new TensorError('ema', `${name}: target ${formatShape(k.shape)} and source ${formatShape(q.shape)} differ`);
      }
      assertDense('ema', k, `target ${name}`);
      const s = denseInput(q);
      if (s.owned) owned.push(s.t);
      items.push({ buffers: [s.t.buffer, k.buffer], values: { sOff: s.t.offset, dOff: k.offset, m: momentum, om: 1 - momentum }, n: k.size });
    }
    launchMulti(EMA, items);
  } finally {
    for (const t of owned) t.dispose();
  }
}
