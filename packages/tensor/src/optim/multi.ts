import { TensorError } from '../errors.ts';
import { f32Bits, UniformLayout } from '../kernels/uniforms.ts';
import { engine, STORAGE_USAGE } from '../runtime/engine.ts';
import { type BufferSpec, defineKernel, type FieldSpec, type FusedKernel, launch } from './fused.ts';
import { bufferBytes } from '../runtime/buffer-bytes.ts';

/**
 * Multi-tensor in-place kernels: one dispatch updates up to `slots` tensors, each with its own bindings (so no
 * tensor moves or is copied) and its own uniforms (offsets, length and every per-tensor scalar). Tensor j owns
 * a run of workgroups; an invocation finds its tensor among the slots' first workgroups and runs the same body
 * as the one-tensor kernel on its bindings, so results are bit-identical to one dispatch per tensor.
 * A training step's ~300 optimizer and EMA updates become a few dozen dispatches.
 */
export interface MultiSpec {
  label: string;
  buffers: readonly BufferSpec[];
  fields: readonly FieldSpec[];
  body: string;
  /**
   * Buffers bound once per dispatch and read by every slot under their own names (a GPU flag or counter all
   * tensors of a step share: binding it per slot would alias it, which splits groups and wastes bindings).
   */
  shared: readonly BufferSpec[];
  /** Unique per definition: two specs may share a label. */
  id: number;
}

interface MultiKernel extends MultiSpec {
  key: string;
  code: string;
  layout: UniformLayout;
  slots: number;
}

export interface MultiItem {
  buffers: readonly GPUBuffer[];
  values: Record<string, number>;
  n: number;
}

const WG = 256;
/** More slots make longer WGSL (one copy of the body per slot) for fewer dispatches; 8 is past the knee. */
const MAX_SLOTS = 8;
const built = new WeakMap<MultiSpec, Map<number, MultiKernel>>();
let defined = 0;

/**
 * `body` is the one-tensor kernel's: it indexes element `i` of buffers by their names and reads fields as
 * plain lets; each slot gets a copy with the buffers renamed to that slot's bindings. The WGSL is built at the
 * first launch, when the device's binding limit is known.
 */
export function defineMulti(
  label: string,
  buffers: readonly BufferSpec[],
  fields: readonly FieldSpec[],
  body: string,
  shared: readonly BufferSpec[] = [],
): MultiSpec {
  return { label, buffers, fields, body, shared, id: defined++ };
}

const wgslType = (b: BufferSpec) => (b.type === 'atomic' ? 'atomic<u32>' : (b.type ?? 'f32'));

function kernelFor(spec: MultiSpec): MultiKernel {
  const slots = Math.max(1, Math.min(MAX_SLOTS, Math.floor((engine().limits.maxStorageBuffersPerShaderStage - spec.shared.length) / spec.buffers.length)));
  let bySlots = built.get(spec);
  if (!bySlots) built.set(spec, (bySlots = new Map()));
  let k = bySlots.get(slots);
  if (!k) bySlots.set(slots, (k = buildKernel(spec, slots)));
  return k;
}

function buildKernel(spec: MultiSpec, slots: number): MultiKernel {
  const { label, buffers, fields, body, shared } = spec;
  const key = `multi|${spec.id}|${label}|${slots}`;
  const layout = new UniformLayout().field('count');
  for (let j = 0; j < slots; j++) {
    layout.field(`start${j}`).field(`n${j}`);
    for (const f of fields) layout.field(`${f.name}${j}`);
  }
  const decls: string[] = [];
  for (let j = 0; j < slots; j++) {
    buffers.forEach((b, k) => {
      decls.push(`@group(0) @binding(${j * buffers.length + k}) var<storage, ${b.access}> ${b.name}_${j}: array<${wgslType(b)}>;`);
    });
  }
  shared.forEach((b, k) => {
    decls.push(`@group(0) @binding(${slots * buffers.length + k}) var<storage, ${b.access}> ${b.name}: array<${wgslType(b)}>;`);
  });
  const cases: string[] = [];
  for (let j = 0; j < slots; j++) {
    const lets = fields.map((f) => `let ${f.name} = ${f.kind === 'f32' ? `bitcast<f32>(${layout.at(`${f.name}${j}`)})` : layout.at(`${f.name}${j}`)};`);
    let slotBody = body;
    for (const b of buffers) slotBody = slotBody.replace(new RegExp(`\\b${b.name}\\[`, 'g'), `${b.name}_${j}[`);
    cases.push(`    case ${j}u: {
      let i = (w - ${layout.at(`start${j}`)}) * ${WG}u + lid;
      if (i >= ${layout.at(`n${j}`)}) { return; }
      ${lets.join('\n      ')}
      ${slotBody.split('\n').join('\n    ')}
    }`);
  }
  // The slot of workgroup w: the last slot whose first workgroup is <= w (slots are in order).
  const find = Array.from({ length: slots - 1 }, (_, j) => `  if (${j + 1}u < ${layout.at('count')} && w >= ${layout.at(`start${j + 1}`)}) { s = ${j + 1}u; }`);
  const code = `${decls.join('\n')}
${layout.declare(slots * buffers.length + shared.length)}
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let w = wid.x + wid.y * nwg.x;
  var s = 0u;
${find.join('\n')}
  switch s {
${cases.join('\n')}
    default: {}
  }
}`;
  return { ...spec, key, code, layout, slots };
}

/**
 * Dispatches `items` in groups of at most `slots`; a group never binds one buffer twice (WebGPU forbids a
 * writable binding that aliases another), so a tensor sharing a buffer with one already in the group starts
 * the next. Unused slots bind fillers and get no workgroups. `shared` are the spec's shared buffers, in order.
 */
export function launchMulti(spec: MultiSpec, items: readonly MultiItem[], shared: readonly GPUBuffer[] = []): void {
  const k = kernelFor(spec);
  if (shared.length !== k.shared.length) throw new Error(`${k.label}: ${shared.length} shared buffers for ${k.shared.length} bindings`);
  const limit = engine().maxBindingBytes;
  let group: MultiItem[] = [];
  let used = new Set<GPUBuffer>();
  for (const it of items) {
    if (it.buffers.length !== k.buffers.length) throw new Error(`${k.label}: ${it.buffers.length} buffers for ${k.buffers.length} bindings`);
    if (new Set(it.buffers).size !== it.buffers.length) {
      throw new TensorError(k.label, `the same storage is bound to two of ${k.buffers.map((b) => b.name).join(', ')}`);
    }
    if (it.n === 0) continue;
    // A tensor larger than a binding goes alone through the one-tensor kernel, which updates it in runs.
    if (it.buffers.some((b) => bufferBytes(b) > limit)) {
      launch(singleFor(spec), [...it.buffers, ...shared], it.values, it.n);
      continue;
    }
    if (group.length === k.slots || it.buffers.some((b) => used.has(b))) {
      dispatchGroup(k, group, shared);
      group = [];
      used = new Set();
    }
    group.push(it);
    for (const b of it.buffers) used.add(b);
  }
  if (group.length) dispatchGroup(k, group, shared);
}

function dispatchGroup(k: MultiKernel, group: readonly MultiItem[], shared: readonly GPUBuffer[]): void {
  const values: Record<string, number> = { count: group.length };
  const buffers: GPUBuffer[] = [];
  let start = 0;
  for (let j = 0; j < k.slots; j++) {
    const it = group[j];
    if (!it) {
      buffers.push(...fillers(j, k.buffers.length));
      continue;
    }
    values[`start${j}`] = start;
    values[`n${j}`] = it.n;
    for (const f of k.fields) {
      const v = it.values[f.name];
      if (v === undefined) throw new Error(`${k.label}: no value for uniform ${f.name}`);
      values[`${f.name}${j}`] = f.kind === 'f32' ? f32Bits(v) : v;
    }
    buffers.push(...it.buffers);
    start += Math.ceil(it.n / WG);
  }
  buffers.push(...shared);
  engine().dispatch({ label: k.label, key: k.key, code: k.code, buffers, uniforms: k.layout.pack(values), workgroups: start });
}

const fillerCache = new WeakMap<GPUDevice, GPUBuffer[]>();

/**
 * Bindings of an unused slot: tiny buffers of their own (a writable binding may not alias another binding, so
 * no live buffer can stand in), made once per device outside the pool and never read or written.
 */
function fillers(slot: number, count: number): GPUBuffer[] {
  const device = engine().device;
  let all = fillerCache.get(device);
  if (!all) fillerCache.set(device, (all = []));
  const out: GPUBuffer[] = [];
  for (let k = 0; k < count; k++) {
    const i = slot * count + k;
    all[i] ??= device.createBuffer({ size: 16, usage: STORAGE_USAGE, label: 'multi-tensor filler' });
    out.push(all[i]);
  }
  return out;
}

/** One tensor through the one-tensor kernel with the same body (a reference for tests, and the sliced path). */
export function launchOne(spec: MultiSpec, item: MultiItem, shared: readonly GPUBuffer[] = []): void {
  if (shared.length !== spec.shared.length) throw new Error(`${spec.label}: ${shared.length} shared buffers for ${spec.shared.length} bindings`);
  launch(singleFor(spec), [...item.buffers, ...shared], item.values, item.n);
}

const singles = new WeakMap<MultiSpec, FusedKernel>();

/** The one-tensor kernel with the same body, for tensors a multi-tensor group cannot bind whole. */
function singleFor(spec: MultiSpec): FusedKernel {
  let k = singles.get(spec);
  if (!k) singles.set(spec, (k = defineKernel(spec.label, [...spec.buffers, ...spec.shared], spec.fields, spec.body)));
  return k;
}
