import type { OperandHook } from './matmul.ts';
import type { UniformLayout } from './uniforms.ts';

/**
 * The B operand of a convolution GEMM, gathered from an NCHW-strided source instead of a stored im2col matrix.
 *
 * Column n and row k each split as (q, a, b) over sizes (·, A, B) and contribute an offset and a spatial
 * position; their sums address the source:
 *   h = (a_n·colHs + colHo) + a_k·kHs,  w = (b_n·colWs + colWo) + b_k·kWs,  off = q_n·colQs + q_k·kQs
 *   B[k, n] = src[off + (h/div)·sH + (w/div)·sW]  if h, w divisible by div and inside [0, H) x [0, W), else 0.
 * Forward: n = output pixel, k = (c, kh, kw). Weight grad: n = (c, kh, kw), k = (batch, oh, ow). Input grad
 * (a transposed conv): n = input pixel, k = (o, kh, kw) with negative kHs/kWs (the kernel flip), div = stride.
 */
export interface GatherGeometry {
  H: number;
  W: number;
  sH: number;
  sW: number;
  colA: number;
  colB: number;
  colQs: number;
  colHs: number;
  colHo: number;
  colWs: number;
  colWo: number;
  kA: number;
  kB: number;
  kQs: number;
  kHs: number;
  kWs: number;
  /** Stride divisor of the transposed conv (1 elsewhere). */
  divH: number;
  divW: number;
}

const FIELDS = ['gH', 'gW', 'gsH', 'gsW', 'gColA', 'gColB', 'gColQs', 'gColHs', 'gColHo', 'gColWs', 'gColWo', 'gKA', 'gKB', 'gKQs', 'gKHs', 'gKWs', 'gDivH', 'gDivW'];

export function gatherUniforms(g: GatherGeometry): Record<string, number> {
  const vals = [g.H, g.W, g.sH, g.sW, g.colA, g.colB, g.colQs, g.colHs, g.colHo, g.colWs, g.colWo, g.kA, g.kB, g.kQs, g.kHs, g.kWs, g.divH, g.divW];
  return Object.fromEntries(FIELDS.map((f, i) => [f, vals[i]]));
}

/**
 * The hook for the kernel builder. `divided` compiles the stride-divisibility test (transposed conv with stride
 * > 1); without it the inner loop has no integer division at all (llvmpipe scalarises vector divisions).
 */
export function gatherHook(divided: boolean): OperandHook {
  const I = (u: UniformLayout, f: string) => `i32(${u.at(f)})`;
  return {
    key: divided ? 'gather/div' : 'gather',
    fields(u) {
      for (const f of FIELDS) u.field(f);
    },
    column(u, j, col, base) {
      const lines = [
        `let gc${j} = ${col};`,
        `let ga${j} = i32((gc${j} / ${u.at('gColB')}) % ${u.at('gColA')});`,
        `let gb${j} = i32(gc${j} % ${u.at('gColB')});`,
        `let gq${j} = i32(gc${j} / (${u.at('gColB')} * ${u.at('gColA')}));`,
        `let gh${j} = ga${j} * ${I(u, 'gColHs')} + ${I(u, 'gColHo')};`,
        `let gw${j} = gb${j} * ${I(u, 'gColWs')} + ${I(u, 'gColWo')};`,
        `let go${j} = i32(${base}) + gq${j} * ${I(u, 'gColQs')};`,
      ];
      // Undivided: fold the column's spatial position into one pointer, so a read is pointer + k pointer.
      if (!divided) lines.push(`let gp${j} = go${j} + gh${j} * ${I(u, 'gsH')} + gw${j} * ${I(u, 'gsW')};`);
      return lines;
    },
    init() {
      return ['var ka = 0u;', 'var kb = 0u;', 'var kh = 0i;', 'var kw = 0i;', 'var ko = 0i;', 'var kp = 0i;'];
    },
    advance(u) {
      // k's (q, a, b) counters step like an odometer; the branches are uniform across the workgroup.
      const lines = [
        `kb += 1u; kw += ${I(u, 'gKWs')};`,
        `if (kb == ${u.at('gKB')}) { kb = 0u; kw = 0i; ka += 1u; kh += ${I(u, 'gKHs')};`,
        `  if (ka == ${u.at('gKA')}) { ka = 0u; kh = 0i; ko += ${I(u, 'gKQs')}; } }`,
      ];
      if (!divided) lines.push(`kp = ko + kh * ${I(u, 'gsH')} + kw * ${I(u, 'gsW')};`);
      return lines;
    },
    read(u, j, dst) {
      const h = `${dst}h`;
      const w = `${dst}w`;
      const ok = `${dst}ok`;
      if (!divided) {
        return [
          `let ${h} = gh${j} + kh; let ${w} = gw${j} + kw;`,
          // Negative positions wrap to huge u32s, so one unsigned compare per axis checks both ends.
          `let ${ok} = u32(${h}) < ${u.at('gH')} && u32(${w}) < ${u.at('gW')};`,
          `let ${dst} = select(0.0, f32(B[select(0u, u32(gp${j} + kp), ${ok})]), ${ok});`,
        ];
      }
      const dh = I(u, 'gDivH');
      const dw = I(u, 'gDivW');
      return [
        `let ${h} = gh${j} + kh; let ${w} = gw${j} + kw;`,
        `let ${dst}y = ${h} / ${dh}; let ${dst}x = ${w} / ${dw};`,
        `let ${ok} = ${h} >= 0 && ${w} >= 0 && ${dst}y * ${dh} == ${h} && ${dst}x * ${dw} == ${w} && u32(${dst}y) < ${u.at('gH')} && u32(${dst}x) < ${u.at('gW')};`,
        `let ${dst} = select(0.0, f32(B[select(0u, u32(go${j} + ko + ${dst}y * ${I(u, 'gsH')} + ${dst}x * ${I(u, 'gsW')}), ${ok})]), ${ok});`,
      ];
    },
    at(u, k, n, base, dst) {
      // Both indices split over their (q, a, b) sizes directly: no state, so any invocation reads any element.
      const [h, w, o] = [`${dst}h`, `${dst}w`, `${dst}o`];
      const lines = [
        `let ${dst}n = ${n}; let ${dst}k = ${k};`,
        `let ${h} = i32((${dst}n / ${u.at('gColB')}) % ${u.at('gColA')}) * ${I(u, 'gColHs')} + ${I(u, 'gColHo')} + i32((${dst}k / ${u.at('gKB')}) % ${u.at('gKA')}) * ${I(u, 'gKHs')};`,
        `let ${w} = i32(${dst}n % ${u.at('gColB')}) * ${I(u, 'gColWs')} + ${I(u, 'gColWo')} + i32(${dst}k % ${u.at('gKB')}) * ${I(u, 'gKWs')};`,
        `let ${o} = i32(${base}) + i32(${dst}n / (${u.at('gColB')} * ${u.at('gColA')})) * ${I(u, 'gColQs')} + i32(${dst}k / (${u.at('gKB')} * ${u.at('gKA')})) * ${I(u, 'gKQs')};`,
      ];
      const ok = `${dst}ok`;
      if (!divided) {
        return [
          ...lines,
          `let ${ok} = u32(${h}) < ${u.at('gH')} && u32(${w}) < ${u.at('gW')};`,
          `let ${dst} = select(0.0, f32(B[select(0u, u32(${o} + ${h} * ${I(u, 'gsH')} + ${w} * ${I(u, 'gsW')}), ${ok})]), ${ok});`,
        ];
      }
      const dh = I(u, 'gDivH');
      const dw = I(u, 'gDivW');
      return [
        ...lines,
        `let ${dst}y = ${h} / ${dh}; let ${dst}x = ${w} / ${dw};`,
        `let ${ok} = ${h} >= 0 && ${w} >= 0 && ${dst}y * ${dh} == ${h} && ${dst}x * ${dw} == ${w} && u32(${dst}y) < ${u.at('gH')} && u32(${dst}x) < ${u.at('gW')};`,
        `let ${dst} = select(0.0, f32(B[select(0u, u32(${o} + ${dst}y * ${I(u, 'gsH')} + ${dst}x * ${I(u, 'gsW')}), ${ok})]), ${ok});`,
      ];
    },
  };
}
