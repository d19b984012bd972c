import type { SharedLayout } from './kernel-layout.ts';

/** A storage binding: a whole buffer, or a window of one (byte offset and size). */
export type BufferBinding = GPUBuffer | { buffer: GPUBuffer; offset?: number; size?: number };

export interface BindGroupStats {
  bindGroupHits: number;
  bindGroupMisses: number;
  bindGroups: number;
}

interface Entry {
  /** The key's numbers, compared on a hash hit (two keys may share a hash). */
  key: Float64Array;
  group: GPUBindGroup;
}

/**
 * Bind groups reused across dispatches that bind the same buffers: the pool hands a training step the same
 * buffers in the same order every iteration, so after the first iteration nearly every dispatch finds its
 * group here instead of creating one (a native call that costs as much as the rest of the encode).
 *
 * The key is a row of numbers, hashed without building a string (this runs on every dispatch): the layout, the
 * uniform window's size (its offset is dynamic, not part of the group) and each storage binding's buffer id,
 * offset and size. Buffer ids come from a WeakMap and are never reused, so a destroyed buffer's groups can never
 * be hit by another buffer; `clear()` drops them when the pool destroys buffers. Bounded: two generations of
 * at most `limit` groups each; a hit in the old one moves to the new one.
 *
 * `find` then, on a miss, `create`: the caller checks the bindings between the two, so a hit, which binds what
 * was already checked, costs no checks.
 */
export class BindGroupCache {
  private young = new Map<number, Entry[]>();
  private old = new Map<number, Entry[]>();
  private youngSize = 0;
  private oldSize = 0;
  private readonly ids = new WeakMap<GPUBuffer, number>();
  private nextId = 1;
  private hits = 0;
  private misses = 0;
  /** The key `find` last computed, and its hash: `create` stores the group under them. */
  private scratch = new Float64Array(2 + 3 * 8);
  private length = 0;
  private hash = 0;

  constructor(
    private readonly device: GPUDevice,
    private readonly limit = 4096,
  ) {}

  private id(b: GPUBuffer): number {
    let i = this.ids.get(b);
    if (i === undefined) this.ids.set(b, (i = this.nextId++));
    return i;
  }

  /** The group binding these buffers under `layout`, or null: then check the bindings and call `create`. */
  find(layout: SharedLayout, buffers: readonly BufferBinding[], uniformBytes: number): GPUBindGroup | null {
    const n = 2 + 3 * buffers.length;
    if (this.scratch.length < n) this.scratch = new Float64Array(n);
    const k = this.scratch;
    k[0] = layout.id;
    k[1] = uniformBytes;
    for (let i = 0, j = 2; i < buffers.length; i++, j += 3) {
      const b = buffers[i] as { buffer?: GPUBuffer; offset?: number; size?: number };
      if (b.buffer !== undefined) {
        k[j] = this.id(b.buffer);
        k[j + 1] = b.offset ?? 0;
        k[j + 2] = b.size ?? -1; // -1: to the end of the buffer
      } else {
        k[j] = this.id(buffers[i] as GPUBuffer);
        k[j + 1] = 0;
        k[j + 2] = -1;
      }
    }
    this.length = n;
    this.hash = hashKey(k, n);
    const young = findIn(this.young.get(this.hash), k, n);
    if (young) {
      this.hits++;
      return young.group;
    }
    const bucket = this.old.get(this.hash);
    const old = findIn(bucket, k, n);
    if (!old) return null;
    this.hits++;
    bucket!.splice(bucket!.indexOf(old), 1);
    this.oldSize--;
    this.insert(old, this.hash);
    return old.group;
  }

  /** Creates and keeps the group that the last `find` missed (same arguments). */
  create(layout: SharedLayout, buffers: readonly BufferBinding[], uniform: GPUBuffer | null, uniformBytes: number): GPUBindGroup {
    this.misses++;
    const entries: GPUBindGroupEntry[] = buffers.map((b, binding) => ({ binding, resource: asResource(b) }));
    if (uniform) entries.push({ binding: buffers.length, resource: { buffer: uniform, offset: 0, size: uniformBytes } });
    const group = this.device.createBindGroup({ layout: layout.layout, entries });
    this.insert({ key: this.scratch.slice(0, this.length), group }, this.hash);
    return group;
  }

  private insert(e: Entry, h: number): void {
    if (this.youngSize >= this.limit) {
      this.old = this.young;
      this.oldSize = this.youngSize;
      this.young = new Map();
      this.youngSize = 0;
    }
    const bucket = this.young.get(h);
    if (bucket) bucket.push(e);
    else this.young.set(h, [e]);
    this.youngSize++;
  }

  /** Forgets every group (called when the pool destroys buffers, and when the binding limit changes). */
  clear(): void {
    this.young.clear();
    this.old.clear();
    this.youngSize = 0;
    this.oldSize = 0;
  }

  stats(): BindGroupStats {
    return { bindGroupHits: this.hits, bindGroupMisses: this.misses, bindGroups: this.youngSize + this.oldSize };
  }
}

/** FNV-style mix of the key's numbers (each an integer below 2^53, or -1), as a small integer for a Map key. */
function hashKey(k: Float64Array, n: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < n; i++) {
    const x = k[i];
    h = Math.imul(h ^ (x | 0), 0x01000193);
    h = Math.imul(h ^ ((x / 0x100000000) | 0), 0x01000193);
  }
  return h >>> 0;
}

function findIn(bucket: Entry[] | undefined, k: Float64Array, n: number): Entry | undefined {
  if (bucket === undefined) return undefined;
  outer: for (const e of bucket) {
    if (e.key.length !== n) continue;
    for (let i = 0; i < n; i++) if (e.key[i] !== k[i]) continue outer;
    return e;
  }
  return undefined;
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
