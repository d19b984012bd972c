import type { BufferSpec, FieldSpec } from './fused.ts';
import { defineMulti, type MultiSpec } from './multi.ts';

/**
 * The AdamW update for every parameter layout, as multi-tensor kernels. The plain variant (f32 parameter and
 * gradient, no gate) is the one-tensor body of torch.optim.AdamW's CPU path, operation for operation:
 *   p *= 1 - lr·wd;  m.lerp_(g, 1-b1);  v = v·b2 + ((1-b2)·g)·g;  p += -step_size · (m / (sqrt(v)/bc2_sqrt + eps))
 * The others change only where values come from and go to:
 * - `half`: the parameter is f16 and `q` holds its f32 master; the update runs on the master and the parameter
 *   gets the master rounded to f16 in the same kernel (so the two never disagree by more than one rounding);
 * - `halfGrad`: the gradient is read as f16 and widened before any arithmetic;
 * - `gated`: a loss scaler's found-inf value (`gate[gateOff]`, shared by every slot) skips the whole update, and
 *   the bias corrections use the step count minus the skipped steps counted on the GPU (`skips[0]`), so a
 *   skipped step does not advance the optimizer, as in PyTorch where GradScaler never calls optimizer.step().
 *   The host's exact f64 scalars are used while it knows the skip count (`knownSkips`), else f32 pow on the GPU.
 */
export interface AdamWVariant {
  half: boolean;
  halfGrad: boolean;
  gated: boolean;
}

const SCALARS: readonly FieldSpec[] = [
  { name: 'decay', kind: 'f32' },
  { name: 'omb1', kind: 'f32' },
  { name: 'b2', kind: 'f32' },
  { name: 'omb2', kind: 'f32' },
  { name: 'bc2Sqrt', kind: 'f32' },
  { name: 'eps', kind: 'f32' },
  { name: 'negStepSize', kind: 'f32' },
];
const GATE_FIELDS: readonly FieldSpec[] = [
  { name: 'gateOff', kind: 'u32' },
  { name: 'lr', kind: 'f32' },
  { name: 'b1', kind: 'f32' },
  { name: 'step', kind: 'u32' },
  { name: 'knownSkips', kind: 'u32' },
];
export const ADAMW_GATE_BUFFERS: readonly BufferSpec[] = [
  { name: 'gate', access: 'read' },
  { name: 'skips', access: 'read' },
];

function buffersOf(v: AdamWVariant): BufferSpec[] {
  const out: BufferSpec[] = [
    { name: 'p', access: 'read_write', offset: 'pOff', ...(v.half ? { type: 'f16' as const } : {}) },
    { name: 'g', access: 'read', offset: 'gOff', ...(v.halfGrad ? { type: 'f16' as const } : {}) },
    { name: 'm', access: 'read_write', offset: 'mOff' },
    { name: 'v', access: 'read_write', offset: 'vOff' },
  ];
  if (v.half) out.push({ name: 'q', access: 'read_write', offset: 'qOff' });
  return out;
}

function fieldsOf(v: AdamWVariant): FieldSpec[] {
  const offsets: FieldSpec[] = ['pOff', 'gOff', 'mOff', 'vOff', ...(v.half ? ['qOff'] : [])].map((name) => ({ name, kind: 'u32' }));
  return [...offsets, ...SCALARS, ...(v.gated ? GATE_FIELDS : [])];
}

function bodyOf(v: AdamWVariant): string {
  const gate = v.gated
    ? `if (gate[gateOff] != 0.0) { return; }
  let skipsNow = u32(skips[0]);
  let exact = skipsNow == knownSkips;
  let tEff = f32(step - min(skipsNow, step - 1u));
  let stepScale = select(-(lr / (1.0 - pow(b1, tEff))), negStepSize, exact);
  let bcs = select(sqrt(1.0 - pow(b2, tEff)), bc2Sqrt, exact);`
    : `let stepScale = negStepSize;
  let bcs = bc2Sqrt;`;
  const store = v.half ? `q[qOff + i] = p1;\n  p[pOff + i] = f16(p1);` : `p[pOff + i] = p1;`;
  return `${gate}
  let grad = ${v.halfGrad ? 'f32(g[gOff + i])' : 'g[gOff + i]'};
  let param = ${v.half ? 'q[qOff + i]' : 'p[pOff + i]'} * decay;
  let m0 = m[mOff + i];
  let m1 = m0 + omb1 * (grad - m0);
  let v1 = v[vOff + i] * b2 + (omb2 * grad) * grad;
  let denom = sqrt(v1) / bcs + eps;
  m[mOff + i] = m1;
  v[vOff + i] = v1;
  let p1 = param + stepScale * (m1 / denom);
  ${store}`;
}

const specs = new Map<string, MultiSpec>();

/** The kernel of one variant, defined once (its key then names the variant for the pipeline cache). */
export function adamwKernel(v: AdamWVariant): MultiSpec {
  const name = `adamw${v.half ? '_half' : ''}${v.halfGrad ? '_hgrad' : ''}${v.gated ? '_gated' : ''}`;
  let spec = specs.get(name);
  if (!spec) specs.set(name, (spec = defineMulti(name, buffersOf(v), fieldsOf(v), bodyOf(v), v.gated ? ADAMW_GATE_BUFFERS : [])));
  return spec;
}
