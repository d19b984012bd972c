import { type BufferWindow, engine } from '../runtime/engine.ts';
import { contiguousStrides, type Shape } from '../shape.ts';
import { allBindWhole, bindView, type ViewLike } from './binding.ts';
import { memoKernel } from './memo.ts';
import { SUBGROUP_ARGS, subgroupTreeCode, subgroupTrees } from './subgroup-tree.ts';
import { indexSlices } from './slices.ts';
import { ceilDiv, ENTRY_ARGS, f32Bits, UniformLayout } from './uniforms.ts';

/**
 * Kernels over the rows of a tensor along one axis (softmax, layer norm): a row is every element that shares
 * the indices of the other axes. Operands are read in place through their own strides, so a permuted or sliced
 * input costs no copy.
 *
 * Operand kinds and the WGSL helpers generated for them (`x` stands for the operand's name):
 * - 'row': same shape as the rows; `ld_x(k)` / `st_x(k, v)` at element k of the current row, `ldr_x(r, k)` at any row.
 * - 'col': one value per position in a row (a weight of shape [n]); `ld_x(k)`.
 * - 'perRow': one value per row, rows numbered in row-major order of the other axes; `ld_x()` / `st_x(v)`, `ldr_x(r)`.
 * - 'raw': a plain array, indexed by hand as `x[i]`.
 */
export type RowKind = 'row' | 'col' | 'perRow' | 'raw';

export interface RowOperand {
  name: string;
  t: ViewLike;
  kind: RowKind;
  write?: boolean;
}

export class RowLayout {
  readonly u = new UniformLayout();
  readonly rows: number;
  readonly n: number;
  readonly ordered: RowOperand[];
  private readonly values: Record<string, number | number[]> = {};
  private readonly kept: number[];

  constructor(
    readonly shape: Shape,
    readonly dim: number,
    operands: readonly RowOperand[],
    /** Extra scalars, reachable in WGSL as `P_name` (ints as u32, floats as f32). */
    readonly params: { ints?: Record<string, number>; floats?: Record<string, number> } = {},
  ) {
    this.kept = shape.map((_, i) => i).filter((i) => i !== dim);
    this.n = shape[dim];
    this.rows = this.kept.reduce((p, i) => p * shape[i], 1);
    // Engine convention: outputs bound last.
    this.ordered = [...operands.filter((o) => !o.write), ...operands.filter((o) => o.write)];
    const kr = Math.max(this.kept.length, 1);
    this.u.field('rows').field('n').field('kShape', kr);
    this.values.rows = this.rows;
    this.values.n = this.n;
    this.values.kShape = this.kept.map((i) => shape[i]);
    for (const o of this.ordered) {
      if (o.kind === 'raw') continue;
      // The value is the offset within the bound range, set in bind().
      this.u.field(`off_${o.name}`);
      if (o.kind === 'row') {
        this.u.field(`ks_${o.name}`, kr).field(`rs_${o.name}`);
        this.values[`ks_${o.name}`] = this.kept.map((i) => o.t.strides[i]);
        this.values[`rs_${o.name}`] = o.t.strides[dim];
      } else if (o.kind === 'col') {
        this.u.field(`rs_${o.name}`);
        this.values[`rs_${o.name}`] = o.t.strides[o.t.shape.length - 1] ?? 0;
      }
    }
    for (const [k, v] of Object.entries(params.ints ?? {})) {
      this.u.field(`p_${k}`);
      this.values[`p_${k}`] = v;
    }
    for (const [k, v] of Object.entries(params.floats ?? {})) {
      this.u.field(`p_${k}`);
      this.values[`p_${k}`] = f32Bits(v);
    }
  }

  /** Sets an int param after construction (a per-slice value). */
  setInt(name: string, v: number): void {
    this.values[`p_${name}`] = v;
  }

  /** The buffers (or windows of them) to bind, in binding order, and the uniform block with offsets into them. */
  bind(label: string): { buffers: (GPUBuffer | BufferWindow)[]; uniforms: Uint32Array } {
    const buffers = this.ordered.map((o) => {
      const b = bindView(o.t, label);
      if (o.kind !== 'raw') this.values[`off_${o.name}`] = b.offset;
      else if (b.offset !== 0) throw new Error(`${label}: raw operand ${o.name} must start its buffer`);
      return b.resource;
    });
    return { buffers, uniforms: this.u.pack(this.values) };
  }

  /**
   * This layout as layouts whose every operand fits a binding: itself when every buffer does, else one per run
   * of whole rows (its 'row' and 'perRow' operands narrowed to the run; 'col' and 'raw' ones bound as they are).
   */
  slices(label: string): RowLayout[] {
    if (allBindWhole(this.ordered.map((o) => o.t))) return [this];
    const keptShape = this.kept.map((i) => this.shape[i]);
    const rowOps = this.ordered.filter((o) => o.kind === 'row' || o.kind === 'perRow');
    // Each row operand with its row axis last (a dim the walk keeps whole); per-row ones over the kept dims.
    const views = rowOps.map((o): ViewLike => {
      const { buffer, dtype, offset, strides } = o.t;
      if (o.kind === 'perRow') return { buffer, dtype, offset, shape: keptShape, strides: contiguousStrides(keptShape) };
      return { buffer, dtype, offset, shape: [...keptShape, this.n], strides: [...this.kept.map((i) => strides[i]), strides[this.dim]] };
    });
    const first = rowOps.findIndex((o) => o.kind === 'row');
    return indexSlices(label, keptShape, views).map(({ views: vs }) => {
      const sliced = this.ordered.map((o) => {
        const k = rowOps.indexOf(o);
        return k < 0 ? o : { ...o, t: vs[k] };
      });
      const shape = vs[first].shape;
      return new RowLayout(shape, shape.length - 1, sliced, this.params);
    });
  }

  /** Everything declarations() depends on: per operand its name, kind, access and dtype; the rank; the params. */
  get signature(): string {
    let sig = `${this.kept.length}`;
    for (const o of this.ordered) sig += `|${o.name}:${o.kind}${o.write ? '!' : ''}${o.t.dtype}`;
    for (const k in this.params.ints ?? {}) sig += `|i${k}`;
    for (const k in this.params.floats ?? {}) sig += `|f${k}`;
    return sig;
  }

  /** Bindings, uniforms, per-row bases and the ld_/st_/ldr_ helpers. */
  declarations(): string {
    const u = this.u;
    const L: string[] = [];
    this.ordered.forEach((o, b) => {
      L.push(`@group(0) @binding(${b}) var<storage, ${o.write ? 'read_write' : 'read'}> ${o.name}: array<${o.t.dtype}>;`);
    });
    L.push(u.declare(this.ordered.length));
    L.push('var<private> row: u32;');
    for (const [k] of Object.entries(this.params.ints ?? {})) L.push(`fn P_${k}() -> u32 { return ${u.at(`p_${k}`)}; }`);
    for (const [k] of Object.entries(this.params.floats ?? {})) L.push(`fn P_${k}() -> f32 { return bitcast<f32>(${u.at(`p_${k}`)}); }`);
    const sets: string[] = [];
    for (const o of this.ordered) {
      const x = o.name;
      const off = o.kind === 'raw' ? '' : u.at(`off_${x}`);
      // Values are f32 inside the kernel; an f16 operand is widened on load and rounded on store.
      const sv = o.t.dtype === 'f32' ? 'v' : `${o.t.dtype}(v)`;
      if (o.kind === 'row') {
        const body = [`var b = ${off};`, 'var rem = r;'];
        for (let d = this.kept.length - 1; d >= 0; d--) {
          const dimSize = u.at('kShape', d);
          body.push(`b += (rem % ${dimSize}) * ${u.at(`ks_${x}`, d)}; rem = rem / ${dimSize};`);
        }
        L.push(`fn base_${x}(r: u32) -> u32 { ${body.join(' ')} return b; }`);
        L.push(`var<private> b_${x}: u32;`);
        sets.push(`b_${x} = base_${x}(r);`);
        const rs = u.at(`rs_${x}`);
        if (o.write) L.push(`fn st_${x}(k: u32, v: f32) { ${x}[b_${x} + k * ${rs}] = ${sv}; }`);
        else {
          L.push(`fn ld_${x}(k: u32) -> f32 { return f32(${x}[b_${x} + k * ${rs}]); }`);
          L.push(`fn ldr_${x}(r: u32, k: u32) -> f32 { return f32(${x}[base_${x}(r) + k * ${rs}]); }`);
        }
      } else if (o.kind === 'col') {
        L.push(`fn ld_${x}(k: u32) -> f32 { return f32(${x}[${off} + k * ${u.at(`rs_${x}`)}]); }`);
      } else if (o.kind === 'perRow') {
        if (o.write) L.push(`fn st_${x}(v: f32) { ${x}[${off} + row] = ${sv}; }`);
        else {
          L.push(`fn ld_${x}() -> f32 { return f32(${x}[${off} + row]); }`);
          L.push(`fn ldr_${x}(r: u32) -> f32 { return f32(${x}[${off} + r]); }`);
        }
      }
    }
    L.push(`fn set_row(r: u32) { row = r; ${sets.join(' ')} }`);
    L.push(`fn NROWS() -> u32 { return ${u.at('rows')}; }`);
    L.push(`fn N() -> u32 { return ${u.at('n')}; }`);
    return L.join('\n');
  }
}

/**
 * One step of a row program, run for each row:
 * - reduce: `let <let> = Σ or max over k of <of>` (every thread of the row sees the result);
 * - stmt: WGSL run once per row by every thread (lets for later steps);
 * - each: WGSL run for every k of the row;
 * - once: WGSL run once per row by one thread (per-row outputs).
 */
export type RowStep =
  | { let: string; reduce: 'sum' | 'max'; of: string; type?: 'f32' | 'vec2<f32>' }
  | { stmt: string }
  | { each: string }
  | { once: string };

const WG = 64;
/** Rows up to this long get a thread each: no barriers, and coalesced when the row axis is not the last. */
const THREAD_PER_ROW_MAX = 64;
/** Enough rows to keep a CPU adapter's cores busy with a thread per row. */
const CPU_MIN_ROWS = 64;

/**
 * CPU Vulkan (lavapipe, SwiftShader) runs a workgroup as one thread over 8 lanes, where barriers cost far more
 * than the parallelism inside a row is worth: measured 12x faster thread-per-row softmax at 1576x197.
 */
export function threadPerRow(n: number, rows: number): boolean {
  return n <= THREAD_PER_ROW_MAX || (rows >= CPU_MIN_ROWS && engine().isCpu);
}

function identity(kind: 'sum' | 'max', type: string): string {
  return kind === 'sum' ? `${type}(0.0)` : '-3.4028234e38';
}
function combine(kind: 'sum' | 'max', a: string, b: string): string {
  return kind === 'sum' ? `${a} + ${b}` : `max(${a}, ${b})`;
}

/** Runs a row program over every row of `layout`. `helpers` is WGSL placed at module scope. */
export function runRowKernel(label: string, whole: RowLayout, steps: readonly RowStep[], helpers = ''): void {
  if (whole.rows === 0 || whole.n === 0) return;
  // One mode for every slice: the same summation order as the unsliced kernel.
  const mode: RowMode = threadPerRow(whole.n, whole.rows) ? 'thread' : subgroupTrees() ? 'subgroups' : 'tree';
  for (const layout of whole.slices(label)) rowDispatch(label, layout, steps, helpers, mode);
}

/** A thread per row, or a workgroup per row reducing through a plain tree or through subgroups. */
type RowMode = 'thread' | 'tree' | 'subgroups';

function rowDispatch(label: string, layout: RowLayout, steps: readonly RowStep[], helpers: string, mode: RowMode): void {
  const threadMode = mode === 'thread';
  // The steps are short literals (their hashes cached by the JS engine), so naming the program by them costs
  // one concatenation, far less than generating the WGSL.
  let key = `row|${threadMode ? 't' : mode === 'tree' ? 'w' : 's'}|${layout.signature}`;
  for (const s of steps) key += `|${'reduce' in s ? `${s.let}=${s.reduce}:${s.type ?? 'f32'}:${s.of}` : 'stmt' in s ? `;${s.stmt}` : 'each' in s ? `*${s.each}` : `1${s.once}`}`;
  key += `|#${helpers}`;
  const code = memoKernel(key, () => rowKernelCode(layout, steps, helpers, mode));
  engine().dispatch({
    label,
    key,
    code,
    ...layout.bind(label),
    workgroups: threadMode ? ceilDiv(layout.rows, WG) : layout.rows,
  });
}

function rowKernelCode(layout: RowLayout, steps: readonly RowStep[], helpers: string, mode: RowMode): string {
  const threadMode = mode === 'thread';
  const types = new Set(steps.flatMap((s) => ('reduce' in s ? [s.type ?? 'f32'] : [])));
  const body: string[] = [];
  let acc = 0;
  for (const s of steps) {
    if ('reduce' in s) {
      const type = s.type ?? 'f32';
      const a = `acc${acc++}`;
      const start = threadMode ? '0u' : 'lid';
      const step = threadMode ? '1u' : `${WG}u`;
      body.push(`var ${a}: ${type} = ${identity(s.reduce, type)};`);
      body.push(`for (var k = ${start}; k < n; k += ${step}) { ${a} = ${combine(s.reduce, a, `(${s.of})`)}; }`);
      if (threadMode) {
        body.push(`let ${s.let} = ${a};`);
      } else if (mode === 'subgroups') {
        const w = type === 'f32' ? 'wf' : 'wv2';
        body.push(subgroupTreeCode({ op: s.reduce, wg: WG, identity: identity(s.reduce, type), value: a, scratch: w, lid: 'lid' }));
        // The barrier after the reads lets the next reduction reuse the scratch array.
        body.push(`let ${s.let} = ${a};`, 'workgroupBarrier();');
      } else {
        const w = type === 'f32' ? 'wf' : 'wv2';
        body.push(`${w}[lid] = ${a};`, 'workgroupBarrier();');
        body.push(`for (var s = ${WG / 2}u; s > 0u; s >>= 1u) { if (lid < s) { ${w}[lid] = ${combine(s.reduce, `${w}[lid]`, `${w}[lid + s]`)}; } workgroupBarrier(); }`);
        // The barrier after the read lets the next reduction reuse the scratch array.
        body.push(`let ${s.let} = ${w}[0];`, 'workgroupBarrier();');
      }
    } else if ('stmt' in s) {
      body.push(s.stmt);
    } else if ('each' in s) {
      body.push(threadMode ? `for (var k = 0u; k < n; k++) { ${s.each} }` : `for (var k = lid; k < n; k += ${WG}u) { ${s.each} }`);
    } else {
      body.push(threadMode ? `{ ${s.once} }` : `if (lid == 0u) { ${s.once} }`);
    }
  }
  const scratch = threadMode
    ? ''
    : [...types].map((t) => `var<workgroup> ${t === 'f32' ? 'wf' : 'wv2'}: array<${t}, ${WG}>;`).join('\n');
  const entry = threadMode
    ? `fn main(${ENTRY_ARGS}) {\n  let r = gid.x + gid.y * nwg.x * ${WG}u;`
    : `fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>${mode === 'subgroups' ? `, ${SUBGROUP_ARGS}` : ''}) {\n  let r = wid.x + wid.y * nwg.x;`;
  return `${mode === 'subgroups' ? 'enable subgroups;\n' : ''}${layout.declarations()}
${scratch}
${helpers}
@compute @workgroup_size(${WG})
${entry}
  if (r >= NROWS()) { return; }
  set_row(r);
  let n = N();
  ${body.join('\n  ')}
}`;
}
