/**
 * Explicit bind group layouts read from a kernel's WGSL declarations, so that (a) layouts with the same bindings
 * are one object shared by every pipeline that has them, which lets a bind group serve all those pipelines, and
 * (b) the uniform block takes a dynamic offset, so a bind group does not depend on where this dispatch's
 * uniforms sit in the ring buffer. Parsed once per pipeline, never per dispatch.
 */
export type BindingKind = 'read' | 'read_write' | 'uniform';

const BINDING = /@group\(0\)\s*@binding\((\d+)\)\s*var\s*<\s*(storage|uniform)\s*(?:,\s*(read_write|read)\s*)?>/g;

/** The bindings of group 0 in binding order; throws on a gap (every binding 0..n-1 must be declared). */
export function parseBindings(code: string): BindingKind[] {
  const live = code.replace(/\/\/.*$/gm, '');
  const out: BindingKind[] = [];
  for (const m of live.matchAll(BINDING)) {
    const i = Number(m[1]);
    if (out[i] !== undefined) throw new Error(`kernel declares binding ${i} twice`);
    out[i] = m[2] === 'uniform' ? 'uniform' : m[3] === 'read_write' ? 'read_write' : 'read';
  }
  for (let i = 0; i < out.length; i++) if (out[i] === undefined) throw new Error(`kernel skips binding ${i}`);
  const u = out.indexOf('uniform');
  if (u >= 0 && u !== out.length - 1) throw new Error('the uniform block must be the last binding');
  return out;
}

export interface SharedLayout {
  /** Small integer naming the layout in bind group keys. */
  id: number;
  layout: GPUBindGroupLayout;
  storage: number;
  uniform: boolean;
}

/** One GPUBindGroupLayout per distinct binding signature. */
export class LayoutCache {
  private readonly bySignature = new Map<string, SharedLayout>();

  constructor(private readonly device: GPUDevice) {}

  get(bindings: readonly BindingKind[]): SharedLayout {
    const sig = bindings.join(',');
    let l = this.bySignature.get(sig);
    if (!l) {
      const entries: GPUBindGroupLayoutEntry[] = bindings.map((k, binding) => ({
        binding,
        visibility: 0x4, // COMPUTE
        buffer:
          k === 'uniform'
            ? { type: 'uniform', hasDynamicOffset: true }
            : { type: k === 'read' ? 'read-only-storage' : 'storage' },
      }));
      const layout = this.device.createBindGroupLayout({ entries, label: sig });
      l = { id: this.bySignature.size, layout, storage: bindings.filter((k) => k !== 'uniform').length, uniform: bindings.includes('uniform') };
      this.bySignature.set(sig, l);
    }
    return l;
  }
}
