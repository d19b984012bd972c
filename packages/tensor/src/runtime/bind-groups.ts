import type { SharedLayout } from './kernel-layout.ts';

/** A storage binding: a whole buffer, or a window of one (byte offset and size). */
export type BufferBinding = GPUBuffer | { buffer: GPUBuffer; offset?: number; size?: number };

export interface BindGroupStats {
  bindGroupHits: number;
  bindGroupMisses: number;
  bindGroups: number;
}

/**
 * Bind groups reused across dispatches that bind the same buffers: the pool hands a training step the same
 * buffers in the same order every iteration, so after the first iteration nearly every dispatch finds its
 * group here instead of creating one (a native call that costs as much as the rest of the encode).
 *
 * The key is the layout, the uniform window's size (its offset is dynamic, not part of the group) and each
 * storage binding's buffer id, offset and size. Buffer ids come from a WeakMap and are never reused, so a
 * destroyed buffer's groups can never be hit by another buffer; `clear()` drops them when the pool destroys
 * buffers. Bounded: two generations of at most `limit` groups each; a hit in the old one moves to the new one.
 */
export class BindGroupCache {
  private young = new Map<string, GPUBindGroup>();
  private old = new Map<string, GPUBindGroup>();
  private readonly ids = new WeakMap<GPUBuffer, number>();
  private nextId = 1;
  private hits = 0;
  private misses = 0;

  constructor(
    private readonly device: GPUDevice,
    private readonly limit = 4096,
  ) {}

  private id(b: GPUBuffer): number {
    let i = this.ids.get(b);
    if (i === undefined) this.ids.set(b, (i = this.nextId++));
    return i;
  }

  get(layout: SharedLayout, buffers: readonly BufferBinding[], uniform: GPUBuffer | null, uniformBytes: number): GPUBindGroup {
    let key = `${layout.id}:${uniformBytes}`;
    for (const b of buffers) {
      const w = asWindow(b);
      key += w ? `|${this.id(w.buffer)}@${w.offset ?? 0}+${w.size ?? ''}` : `|${this.id(b as GPUBuffer)}`;
    }
    let g = this.young.get(key);
    if (g) {
      this.hits++;
      return g;
    }
    g = this.old.get(key);
    if (g) {
      this.hits++;
      this.old.delete(key);
    } else {
      this.misses++;
      const entries: GPUBindGroupEntry[] = buffers.map((b, binding) => ({ binding, resource: asResource(b) }));
      if (uniform) entries.push({ binding: buffers.length, resource: { buffer: uniform, offset: 0, size: uniformBytes } });
      g = this.device.createBindGroup({ layout: layout.layout, entries });
    }
    if (this.young.size >= this.limit) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, g);
    return g;
  }

  /** Forgets every group (called when the pool destroys buffers). */
  clear(): void {
    this.young.clear();
    this.old.clear();
  }

  stats(): BindGroupStats {
    return { bindGroupHits: this.hits, bindGroupMisses: this.misses, bindGroups: this.young.size + this.old.size };
  }
}

/** The window form of a binding, or null for a whole buffer (a GPUBuffer has no `buffer` property). */
export function asWindow(b: BufferBinding): { buffer: GPUBuffer; offset?: number; size?: number } | null {
  const w = b as { buffer?: GPUBuffer };
  return w.buffer !== undefined ? (b as { buffer: GPUBuffer; offset?: number; size?: number }) : null;
}

export function bufferOf(b: BufferBinding): GPUBuffer {
  return asWindow(b)?.buffer ?? (b as GPUBuffer);
}

function asResource(b: BufferBinding): GPUBufferBinding {
  const w = asWindow(b);
  return w ? { buffer: w.buffer, offset: w.offset ?? 0, size: w.size } : { buffer: b as GPUBuffer };
}
