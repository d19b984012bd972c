/**
 * NaN/Inf provenance, a debug mode: each f32 tensor is checked once, right after the dispatch that first writes
 * it, by a small kernel that records the sequence number of the earliest offending dispatch with atomicMin.
 * Nothing waits inside a step; `firstNonFiniteOp()` reads the verdict when asked.
 */
export interface NonFiniteOp {
  op: string;
  shape: readonly number[];
}

interface Pending {
  numel: number;
  shape: readonly number[];
}

const WG = 256;
const NONE = 0xffffffff;

export const CHECK_WGSL = /* wgsl */ `
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> flag: array<atomic<u32>>;
struct Uniforms { v: vec4<u32> };
@group(0) @binding(2) var<uniform> u: Uniforms;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * ${WG}u;
  if (i >= u.v.x) { return; }
  let v = x[i];
  // NaN fails every comparison; Inf exceeds the largest finite f32.
  if (!(abs(v) <= 3.4028234e38)) { atomicMin(&flag[0], u.v.y); }
}`;

export class NanCheck {
  private readonly pending = new Map<GPUBuffer, Pending>();
  private readonly seen: NonFiniteOp[] = [];
  readonly flag: GPUBuffer;

  constructor(device: GPUDevice) {
    this.flag = device.createBuffer({ size: 16, usage: 0x80 | 0x4 | 0x8 }); // STORAGE | COPY_SRC | COPY_DST
    device.queue.writeBuffer(this.flag, 0, new Uint32Array([NONE, 0, 0, 0]));
  }

  /** A freshly allocated f32 buffer: the next dispatch that binds it is the op that produced it. */
  expect(buffer: GPUBuffer, numel: number, shape: readonly number[]): void {
    if (numel > 0) this.pending.set(buffer, { numel, shape });
  }

  forget(buffer: GPUBuffer): void {
    this.pending.delete(buffer);
  }

  /** The checks owed after a dispatch labelled `op` that bound `buffers`. */
  take(op: string, buffers: readonly GPUBuffer[]): { buffer: GPUBuffer; numel: number; seq: number }[] {
    const out: { buffer: GPUBuffer; numel: number; seq: number }[] = [];
    for (const b of buffers) {
      const p = this.pending.get(b);
      if (!p) continue;
      this.pending.delete(b);
      out.push({ buffer: b, numel: p.numel, seq: this.seen.length });
      this.seen.push({ op, shape: p.shape });
    }
    return out;
  }

  decode(flagValue: number): NonFiniteOp | null {
    return flagValue === NONE ? null : (this.seen[flagValue] ?? null);
  }

  reset(device: GPUDevice): void {
    this.seen.length = 0;
    device.queue.writeBuffer(this.flag, 0, new Uint32Array([NONE, 0, 0, 0]));
  }
}

export const NAN_CHECK_WG = WG;
