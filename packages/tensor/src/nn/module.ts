import { noGrad, requireGrad } from '../autograd/graph.ts';
import { isFloat } from '../dtype.ts';
import { checkF16Support } from '../f16.ts';
import { tensor } from '../ops/creation.ts';
import { cast } from '../ops/elementwise.ts';
import { TensorError } from '../errors.ts';
import { keep, scope } from '../memory.ts';
import { engine } from '../runtime/engine.ts';
import { formatShape, numel, shapesEqual } from '../shape.ts';
import { Tensor } from '../tensor.ts';
import { copyInto } from '../optim/assign.ts';

/** A tensor on the host, as the checkpoint readers return it (`io` HostTensor fits). */
export interface HostArray {
  shape: readonly number[];
  data: ArrayLike<number>;
}

export type StateValue = Tensor | HostArray;
export type StateRecord = Readonly<Record<string, StateValue>> | ReadonlyMap<string, StateValue>;

export interface LoadResult {
  missing: string[];
  unexpected: string[];
  /** Keys present on both sides whose shapes (or dtypes) differ; they are not loaded. */
  mismatched: { key: string; expected: readonly number[]; got: readonly number[]; note?: string }[];
}

// Modules of any signature can be children.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyModule = Module<any[], unknown>;

/**
 * The PyTorch nn.Module contract: parameters, buffers and children registered by name in construction order,
 * so namedParameters() and stateDict() produce exactly the dotted keys of torch/timm checkpoints.
 */
export abstract class Module<In extends unknown[] = [Tensor], Out = Tensor> {
  training = true;
  private readonly params = new Map<string, Tensor | null>();
  private readonly bufs = new Map<string, Tensor | null>();
  private readonly nonPersistent = new Set<string>();
  private readonly children = new Map<string, AnyModule | null>();

  abstract forward(...args: In): Out;

  private checkName(kind: string, name: string): void {
    if (!name || name.includes('.')) throw new TensorError(this.constructor.name, `${kind} name '${name}' must be non-empty and have no '.'`);
    if (this.params.has(name) || this.bufs.has(name) || this.children.has(name)) {
      throw new TensorError(this.constructor.name, `'${name}' is already registered`);
    }
  }

  /** Adopts a leaf float tensor as a parameter: it leaves every scope and requires grad. null reserves the name. */
  protected registerParameter<T extends Tensor | null>(name: string, t: T): T {
    this.checkName('parameter', name);
    if (t) {
      if (!t.isLeaf || !isFloat(t.dtype)) throw new TensorError(this.constructor.name, `parameter ${name} must be a leaf f32 or f16 tensor`);
      requireGrad(keep(t));
    }
    this.params.set(name, t);
    return t;
  }

  /** Adopts a state tensor that is not trained (statistics, queues); non-persistent ones stay out of stateDict. */
  protected registerBuffer<T extends Tensor | null>(name: string, t: T, persistent = true): T {
    this.checkName('buffer', name);
    if (t) keep(t);
    this.bufs.set(name, t);
    if (!persistent) this.nonPersistent.add(name);
    return t;
  }

  protected registerModule<M extends AnyModule | null>(name: string, m: M): M {
    this.checkName('module', name);
    this.children.set(name, m);
    return m;
  }

  /** Replaces a registered buffer (e.g. a queue rebuilt out of place); the old tensor is disposed. */
  protected setBuffer(name: string, t: Tensor | null): void {
    if (!this.bufs.has(name)) throw new TensorError(this.constructor.name, `no buffer '${name}'`);
    const old = this.bufs.get(name);
    if (old && old !== t) old.dispose();
    this.bufs.set(name, t ? keep(t) : null);
  }

  *namedChildren(): IterableIterator<[string, AnyModule]> {
    for (const [n, m] of this.children) if (m) yield [n, m];
  }

  /** This module and every descendant, pre-order, with dotted names ('' for this one). */
  *namedModules(prefix = ''): IterableIterator<[string, AnyModule]> {
    yield [prefix, this as AnyModule];
    for (const [n, m] of this.namedChildren()) yield* m.namedModules(prefix ? `${prefix}.${n}` : n);
  }

  /** Dotted names as torch's named_parameters(): each tensor once, at its first name. */
  namedParameters(prefix = ''): [string, Tensor][] {
    return this.collect(prefix, (m) => m.params);
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  namedBuffers(prefix = ''): [string, Tensor][] {
    return this.collect(prefix, (m) => m.bufs);
  }

  private collect(prefix: string, pick: (m: AnyModule) => Map<string, Tensor | null>): [string, Tensor][] {
    const seen = new Set<Tensor>();
    const out: [string, Tensor][] = [];
    for (const [path, m] of this.namedModules(prefix)) {
      for (const [n, t] of pick(m)) {
        if (!t || seen.has(t)) continue;
        seen.add(t);
        out.push([path ? `${path}.${n}` : n, t]);
      }
    }
    return out;
  }

  /** The descendant at a dotted path ('' is this module). */
  getSubmodule(path: string): AnyModule {
    let m: AnyModule = this as AnyModule;
    for (const part of path ? path.split('.') : []) {
      const next = m.children.get(part);
      if (!next) throw new TensorError(this.constructor.name, `no submodule '${path}' (stopped at '${part}')`);
      m = next;
    }
    return m;
  }

  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Freezes (false) or unfreezes every parameter of this subtree; frozen parameters get no gradient. */
  requiresGrad_(on = true): this {
    for (const t of this.parameters()) requireGrad(t, on);
    return this;
  }

  /**
   * Converts every float parameter and buffer of this subtree to `dtype` in place (the handles stay, as
   * PyTorch's module.half()/float()), keeping names and requiresGrad; gradients are dropped. Integer buffers
   * are left alone. 'f16' needs the adapter's shader-f16 (engine().supportsF16).
   */
  to(dtype: 'f16' | 'f32'): this {
    if (dtype === 'f16') checkF16Support(`${this.constructor.name}.to`, engine().supportsF16);
    const done = new Set<Tensor>();
    for (const t of [...this.parameters(), ...this.namedBuffers().map(([, b]) => b)]) {
      if (done.has(t) || !isFloat(t.dtype) || t.dtype === dtype) continue;
      done.add(t);
      const c = noGrad(() => cast(t, dtype));
      t.grad?.dispose();
      t.grad = null;
      t.setData(c);
      c.dispose();
    }
    return this;
  }

  zeroGrad(): void {
    for (const t of this.parameters()) {
      t.grad?.dispose();
      t.grad = null;
    }
  }

  /** Parameters and persistent buffers under their torch state_dict keys, in torch's order (live handles, not copies). */
  stateDict(prefix = ''): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    for (const [path, m] of this.namedModules(prefix)) {
      const key = (n: string) => (path ? `${path}.${n}` : n);
      for (const [n, t] of m.params) if (t) out[key(n)] = t;
      for (const [n, t] of m.bufs) if (t && !m.nonPersistent.has(n)) out[key(n)] = t;
    }
    return out;
  }

  /**
   * Copies values into the existing tensors (in place, so optimizers keep their handles). Strict: throws naming
   * every missing, unexpected and mis-shaped key, and loads nothing. Non-strict: loads what fits, returns the rest.
   */
  loadStateDict(record: StateRecord, options: { strict?: boolean } = {}): LoadResult {
    const strict = options.strict ?? true;
    const own = this.stateDict();
    const incoming = record instanceof Map ? new Map(record) : new Map(Object.entries(record as Record<string, StateValue>));
    const result: LoadResult = { missing: [], unexpected: [], mismatched: [] };
    const todo: [Tensor, StateValue][] = [];
    for (const [key, dst] of Object.entries(own)) {
      const src = incoming.get(key);
      if (src === undefined) {
        result.missing.push(key);
        continue;
      }
      const problem = mismatch(dst, src);
      if (problem !== null) result.mismatched.push({ key, expected: dst.shape, got: [...src.shape], ...(problem ? { note: problem } : {}) });
      else todo.push([dst, src]);
    }
    for (const key of incoming.keys()) if (!(key in own)) result.unexpected.push(key);
    const bad = result.missing.length + result.unexpected.length + result.mismatched.length;
    if (strict && bad > 0) throw new TensorError(`${this.constructor.name}.loadStateDict`, describe(result));
    for (const [dst, src] of todo) assign(dst, src);
    return result;
  }

  /** Frees every parameter, buffer and gradient of this subtree. */
  dispose(): void {
    for (const [, m] of this.namedModules()) {
      for (const t of [...m.params.values(), ...m.bufs.values()]) {
        t?.grad?.dispose();
        t?.dispose();
      }
    }
  }
}

/** null when src fits dst; otherwise why not ('' for a plain shape difference). */
function mismatch(dst: Tensor, src: StateValue): string | null {
  if (!shapesEqual(dst.shape, src.shape)) return '';
  // Floats convert into floats (an f32 checkpoint into an f16 model); nothing else changes dtype on load.
  const converts = src instanceof Tensor && isFloat(src.dtype) && isFloat(dst.dtype);
  if (src instanceof Tensor && src.dtype !== dst.dtype && !converts) return `dtype ${src.dtype}, expected ${dst.dtype}`;
  if (!(src instanceof Tensor) && src.data.length !== numel(src.shape)) return `${src.data.length} values for the shape`;
  return null;
}

function assign(dst: Tensor, src: StateValue): void {
  if (src instanceof Tensor && src.dtype !== dst.dtype) {
    const c = noGrad(() => cast(src, dst.dtype));
    copyInto(dst, c);
    c.dispose();
    return;
  }
  if (src instanceof Tensor) {
    copyInto(dst, src);
    return;
  }
  if (dst.dtype === 'f16') {
    // Host numbers are rounded to halves on the GPU, by the cast that training's f16 writes use (so an f32
    // master saved and loaded gives back the very f16 weight); the copy keeps dst's storage.
    const h = noGrad(() => scope(() => cast(tensor(src.data instanceof Float32Array ? src.data : Float32Array.from(src.data), dst.shape, 'f32'), 'f16')));
    copyInto(dst, h);
    h.dispose();
    return;
  }
  const Ctor = dst.dtype === 'f32' ? Float32Array : dst.dtype === 'i32' ? Int32Array : Uint32Array;
  const data = src.data instanceof Ctor ? src.data : Ctor.from(src.data);
  if (dst.size > 0) engine().upload(dst.buffer, data, dst.offset * 4);
}

function describe(r: LoadResult): string {
  const parts: string[] = [];
  if (r.missing.length) parts.push(`missing keys (${r.missing.length}): ${r.missing.join(', ')}`);
  if (r.unexpected.length) parts.push(`unexpected keys (${r.unexpected.length}): ${r.unexpected.join(', ')}`);
  if (r.mismatched.length) {
    const list = r.mismatched.map((m) => `${m.key} (checkpoint ${formatShape(m.got)}, model ${formatShape(m.expected)}${m.note ? `; ${m.note}` : ''})`);
    parts.push(`mis-shaped keys (${r.mismatched.length}): ${list.join(', ')}`);
  }
  return `${parts.join('; ')}. Nothing was loaded`;
}
