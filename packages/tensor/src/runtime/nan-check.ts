/**
 * NaN/Inf provenance, a debug mode: each f32 tensor is checked once by a small kernel that records, with
 * atomicMin, the sequence number of the earliest op whose output held a NaN or Inf. The op that produced a
 * tensor is the first dispatch that binds it; the check runs once the tensor is complete: when another op binds
 * it (an op may write its output over several dispatches: concat, sliced kernels), when its buffer is handed out
 * again, or when the verdict is asked for. Checking earlier would read elements not yet written (false alarms).
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

interface Written extends Pending {
  op: string;
  seq: number;
}

/** A check to encode: `numel` f32 elements at the start of `buffer`, blamed on dispatch `seq`. */
export interface OwedCheck {
  buffer: GPUBuffer;
  numel: number;
  seq: number;
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
  /** Allocated, not yet written. */
  private readonly pending = new Map<GPUBuffer, Pending>();
  /** Written by `op`, not yet checked. */
  private readonly written = new Map<GPUBuffer, Written>();
  private readonly seen: NonFiniteOp[] = [];
  readonly flag: GPUBuffer;

  constructor(device: GPUDevice) {
    this.flag = device.createBuffer({ size: 16, usage: 0x80 | 0x4 | 0x8 }); // STORAGE | COPY_SRC | COPY_DST
    device.queue.writeBuffer(this.flag, 0, new Uint32Array([NONE, 0, 0, 0]));
  }

  /** A freshly allocated f32 buffer: the next dispatch that binds it is the op that produces it. */
  expect(buffer: GPUBuffer, numel: number, shape: readonly number[]): OwedCheck[] {
    // The buffer's previous tensor is complete (its storage was released): check it before it is overwritten.
    const owed = this.checkOf(buffer);
    this.pending.delete(buffer);
    if (numel > 0) this.pending.set(buffer, { numel, shape });
    return owed;
  }

  forget(buffer: GPUBuffer): void {
    this.pending.delete(buffer);
    this.written.delete(buffer);
  }

  /** After a dispatch labelled `op` that bound `buffers`: records what it produced, returns the checks now owed. */
  take(op: string, buffers: readonly GPUBuffer[]): OwedCheck[] {
    const out: OwedCheck[] = [];
    for (const b of buffers) {
      const w = this.written.get(b);
      // Another op reads it, so its producer is done with it. The same op may still be writing it.
      if (w && w.op !== op) out.push(...this.checkOf(b));
      const p = this.pending.get(b);
      if (!p) continue;
      this.pending.delete(b);
      this.written.set(b, { ...p, op, seq: this.seen.length });
      this.seen.push({ op, shape: p.shape });
    }
    return out;
  }

  /** Every check still owed, before the verdict is read. */
  drain(): OwedCheck[] {
    return [...this.written.keys()].flatMap((b) => this.checkOf(b));
  }

  private checkOf(buffer: GPUBuffer): OwedCheck[] {
    const w = this.written.get(buffer);
    if (!w) return [];
    this.written.delete(buffer);
    return [{ buffer, numel: w.numel, seq: w.seq }];
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
