/**
 * Packs a kernel's shape parameters into one uniform block of u32s, so one pipeline serves every shape of the
 * same rank. Code generation reads fields back by constant index (`u.v[2].y`), resolved at compile time.
 */
export class UniformLayout {
  private readonly fields = new Map<string, { index: number; length: number }>();
  private size = 0;

  /** Reserves `length` u32 slots under `name`. */
  field(name: string, length = 1): this {
    if (this.fields.has(name)) throw new Error(`uniform field ${name} declared twice`);
    this.fields.set(name, { index: this.size, length });
    this.size += length;
    return this;
  }

  /** WGSL expression reading element `i` of field `name`; `i` must be a compile-time number. */
  at(name: string, i = 0): string {
    const f = this.fields.get(name);
    if (!f) throw new Error(`unknown uniform field ${name}`);
    if (i >= f.length) throw new Error(`uniform field ${name} has ${f.length} slots, asked for ${i}`);
    const k = f.index + i;
    return `u.v[${k >> 2}].${'xyzw'[k & 3]}`;
  }

  /** WGSL declaration of the block at `binding`. */
  declare(binding: number): string {
    const vecs = Math.max(1, Math.ceil(this.size / 4));
    return `struct Uniforms { v: array<vec4<u32>, ${vecs}> };\n@group(0) @binding(${binding}) var<uniform> u: Uniforms;\n`;
  }

  /** Fills values (numbers are written as u32; negative i32 values wrap as two's complement). */
  pack(values: Record<string, number | readonly number[]>): Uint32Array {
    const out = new Uint32Array(Math.max(4, Math.ceil(this.size / 4) * 4));
    // Runs on every dispatch: no entry arrays, no boxing of scalars.
    for (const name in values) {
      const f = this.fields.get(name);
      if (!f) throw new Error(`unknown uniform field ${name}`);
      const v = values[name];
      if (typeof v === 'number') {
        if (f.length < 1) throw new Error(`uniform field ${name} holds ${f.length} values, got 1`);
        out[f.index] = v >>> 0;
        continue;
      }
      if (v.length > f.length) throw new Error(`uniform field ${name} holds ${f.length} values, got ${v.length}`);
      for (let i = 0; i < v.length; i++) out[f.index + i] = v[i] >>> 0;
    }
    return out;
  }
}

/** Packs f32 bits into a u32 slot, for float parameters that travel with the shape block. */
export function f32Bits(x: number): number {
  F32[0] = x;
  return U32[0];
}
const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** The WGSL prelude that turns a possibly 2-D folded grid into a linear invocation id. */
export function linearId(workgroupSize: number): string {
  return `let gidx = gid.x + gid.y * nwg.x * ${workgroupSize}u;`;
}

export const ENTRY_ARGS = '@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>';

/**
 * The entry point of a kernel with one invocation per element: declares `gidx` and returns past the layout's `n`
 * field. The caller writes the body and the closing brace.
 */
export function perElementMain(workgroupSize: number, layout: UniformLayout): string {
  return `@compute @workgroup_size(${workgroupSize})
fn main(${ENTRY_ARGS}) {
  ${linearId(workgroupSize)}
  if (gidx >= ${layout.at('n')}) { return; }`;
}

/**
 * Code that maps a linear index over `shape` to an element offset of a strided tensor. `shapeField` and
 * `strideField` name uniform fields of `rank` slots; `offsetField` holds the base offset.
 */
export function stridedOffset(
  u: UniformLayout,
  out: string,
  index: string,
  rank: number,
  shapeField: string,
  strideField: string,
  offsetField: string,
): string {
  const lines = [`var ${out} = ${u.at(offsetField)};`, `{ var rem = ${index};`];
  for (let d = rank - 1; d >= 0; d--) {
    const dim = u.at(shapeField, d);
    if (d > 0) lines.push(`  ${out} += (rem % ${dim}) * ${u.at(strideField, d)}; rem = rem / ${dim};`);
    else lines.push(`  ${out} += rem * ${u.at(strideField, d)};`);
  }
  lines.push('}');
  return lines.join('\n');
}

export function ceilDiv(a: number, b: number): number {
  return Math.floor((a + b - 1) / b);
}
