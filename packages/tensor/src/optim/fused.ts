import { TensorError } from '../errors.ts';
import { ceilDiv, f32Bits, perElementMain, UniformLayout } from '../kernels/uniforms.ts';
import { bindView, type ViewLike } from '../kernels/binding.ts';
import { indexSlices } from '../kernels/slices.ts';
import { type BufferWindow, engine } from '../runtime/engine.ts';
import { formatShape } from '../shape.ts';
import { Tensor } from '../tensor.ts';
import { noGrad } from '../autograd/graph.ts';
import { contiguous } from '../ops/view.ts';
import { bufferBytes } from '../runtime/buffer-bytes.ts';

/**
 * In-place elementwise kernels for optimizers: every buffer is bound once (read or read_write), and every
 * number that changes between steps (lr, bias corrections, offsets) travels in the uniform block, so the
 * pipeline compiles once per kernel, never per step.
 */
export interface BufferSpec {
  name: string;
  access: 'read' | 'read_write';
  /** `atomic` declares array<atomic<u32>> (flags written by many threads); `u32` moves raw bits of any dtype. */
  type?: 'f32' | 'f16' | 'u32' | 'atomic';
  /**
   * The u32 field holding this buffer's element offset: element i is `name[off + i]`. A buffer with one may be
   * larger than a binding (it is then updated in runs, each bound as a window); one without is bound whole.
   */
  offset?: string;
}

export interface FieldSpec {
  name: string;
  kind: 'u32' | 'f32';
}

export interface FusedKernel {
  label: string;
  /** Unique per defined kernel (two kernels may share a label). */
  key: string;
  code: string;
  layout: UniformLayout;
  buffers: readonly BufferSpec[];
  fields: readonly FieldSpec[];
}

const WG = 256;
let defined = 0;

/** `body` runs once per element index `i` (below the `n` field); fields are plain WGSL `let`s of their name. */
export function defineKernel(label: string, buffers: readonly BufferSpec[], fields: readonly FieldSpec[], body: string): FusedKernel {
  const layout = new UniformLayout().field('n');
  for (const f of fields) layout.field(f.name);
  const decls = buffers.map(
    (b, k) => `@group(0) @binding(${k}) var<storage, ${b.access}> ${b.name}: array<${b.type === 'atomic' ? 'atomic<u32>' : (b.type ?? 'f32')}>;`,
  );
  const lets = fields.map((f) => (f.kind === 'f32' ? `let ${f.name} = bitcast<f32>(${layout.at(f.name)});` : `let ${f.name} = ${layout.at(f.name)};`));
  const code = `${decls.join('\n')}
${layout.declare(buffers.length)}
${perElementMain(WG, layout)}
  let i = gidx;
  ${lets.join('\n  ')}
  ${body}
}`;
  return { label, key: `fused|${defined++}|${label}`, code, layout, buffers, fields };
}

/** Dispatches over n elements. Refuses a buffer bound twice: WebGPU forbids a writable binding that aliases another. */
export function launch(k: FusedKernel, buffers: readonly GPUBuffer[], values: Record<string, number>, n: number): void {
  if (buffers.length !== k.buffers.length) throw new Error(`${k.label}: ${buffers.length} buffers for ${k.buffers.length} bindings`);
  if (new Set(buffers).size !== buffers.length) {
    throw new TensorError(k.label, `the same storage is bound to two of ${k.buffers.map((b) => b.name).join(', ')}`);
  }
  if (n === 0) return;
  const packed: Record<string, number> = { n };
  for (const f of k.fields) {
    const v = values[f.name];
    if (v === undefined) throw new Error(`${k.label}: no value for uniform ${f.name}`);
    packed[f.name] = f.kind === 'f32' ? f32Bits(v) : v;
  }
  const e = engine();
  if (buffers.every((b) => bufferBytes(b) <= e.maxBindingBytes)) {
    e.dispatch({ label: k.label, key: k.key, code: k.code, buffers, uniforms: k.layout.pack(packed), workgroups: ceilDiv(n, WG) });
    return;
  }
  // Past the binding limit: runs of the flat range, each buffer with an offset bound as the window the run spans.
  const dense = k.buffers.flatMap((b, j) => (b.offset ? [j] : []));
  const views: ViewLike[] = dense.map((j) => {
    const spec = k.buffers[j];
    const dtype = spec.type === 'f16' || spec.type === 'u32' ? spec.type : 'f32';
    return { buffer: buffers[j], dtype, offset: values[spec.offset!], shape: [n], strides: [1] };
  });
  for (const { views: run } of indexSlices(k.label, [n], views)) {
    const bound: (GPUBuffer | BufferWindow)[] = [...buffers];
    const runValues: Record<string, number> = { ...packed, n: run[0].shape[0] };
    run.forEach((v, q) => {
      const b = bindView(v, k.label);
      bound[dense[q]] = b.resource;
      runValues[k.buffers[dense[q]].offset!] = b.offset;
    });
    e.dispatch({ label: k.label, key: k.key, code: k.code, buffers: bound, uniforms: k.layout.pack(runValues), workgroups: ceilDiv(runValues.n, WG) });
  }
}

/** A parameter must be a dense f32 block (an element offset into its storage is fine). */
export function assertDense(op: string, t: Tensor, what: string): void {
  if (t.dtype !== 'f32') throw new TensorError(op, `${what} must be f32, got ${t.dtype}`);
  if (!t.isContiguous) throw new TensorError(op, `${what} ${formatShape(t.shape)} must be contiguous to be updated in place`);
}

/**
 * A dense handle on a gradient: itself when contiguous, else a copy (broadcast or transposed gradients are rare;
 * the caller disposes the copy when `owned`).
 */
export function denseInput(g: Tensor): { t: Tensor; owned: boolean } {
  if (g.isContiguous) return { t: g, owned: false };
  return { t: noGrad(() => contiguous(g)), owned: true };
}
