import {
  type AttentionDType,
  attentionLayout,
  type AttentionConfig,
  chunks,
  dotChunks,
  kernelModule,
  type KernelShape,
  makeStream,
  range,
  storeRow,
  TOKEN_MAJOR_ROW,
} from './attention.ts';
import type { UniformLayout } from './uniforms.ts';

/** Which of q, k, v, o, dO are bound as vec4 (see StridedOperand). */
export type Vec4Flags = Record<'q' | 'k' | 'v' | 'o' | 'g', boolean>;

export interface AttentionKernel {
  code: string;
  layout: UniformLayout;
}

const NEG = '-3.0e38';

function build(k: KernelShape, vectors: string[], scalars: string[], body: (s: ReturnType<typeof makeStream>) => string[]): AttentionKernel {
  const layout = attentionLayout(k.strided);
  const stream = makeStream(k, vectors, scalars);
  return { code: kernelModule(k, layout, stream, body(stream)), layout };
}

/**
 * Forward: lane row = query. Online softmax over key blocks (running max m, running sum l, output rescaled
 * by exp(m_old − m_new) once per block); writes O (token-major) and the row's log-sum-exp m + log l.
 */
export function forwardKernel(d: number, dtype: AttentionDType, cfg: AttentionConfig, v4: Vec4Flags): AttentionKernel {
  const k: KernelShape = {
    d,
    dtype,
    cfg,
    strided: [{ name: 'q', vec4: v4.q }, { name: 'k', vec4: v4.k }, { name: 'v', vec4: v4.v }],
    plain: [],
    outRows: ['O'],
    outScalars: ['LSE'],
  };
  const C = range(chunks(d));
  const J = range(cfg.bc);
  return build(k, ['k', 'v'], [], (s) => {
    const L: string[] = [];
    // q is pre-scaled, so scores come out scaled.
    for (const ch of C) L.push(`let q${ch} = ld4_q(r, ${ch}u) * SCALE();`, `var o${ch} = vec4<f32>(0.0);`);
    L.push(`var m = ${NEG};`, 'var l = 0.0;');
    L.push(`for (var j0 = 0u; j0 < NN(); j0 += ${cfg.bc}u) {`);
    const B: string[] = [...s.block];
    for (const jj of J) {
      B.push(...s.row('k', `${jj}u`, `${jj}`), ...dotChunks(d, (ch) => `q${ch}`, (ch) => s.v4('k', `${jj}u`, ch, `${jj}`), `t${jj}`));
      B.push(`let s${jj} = select(${NEG}, t${jj}, j0 + ${jj}u < NN());`);
    }
    B.push(`let mn = max(m, ${J.reduce((acc, jj) => (acc ? `max(${acc}, s${jj})` : `s${jj}`), '')});`);
    B.push('let al = exp(m - mn);');
    for (const jj of J) B.push(`let p${jj} = select(0.0, exp(s${jj} - mn), j0 + ${jj}u < NN());`);
    B.push(`l = l * al + ${J.map((jj) => `p${jj}`).join(' + ')};`, 'm = mn;');
    for (const ch of C) B.push(`o${ch} = o${ch} * al;`);
    for (const jj of J) {
      B.push(...s.row('v', `${jj}u`, `${jj}`));
      for (const ch of C) B.push(`o${ch} = fma(vec4<f32>(p${jj}), ${s.v4('v', `${jj}u`, ch, `${jj}`)}, o${ch});`);
    }
    L.push(...B.map((x) => `  ${x}`), '}');
    L.push('if (i < NN()) {', '  let inv = 1.0 / l;');
    // O goes out token-major, (B, N, H, d): the (B, N, H·d) input of the projection, with no copy between.
    L.push(...storeRow(k, 'O', (ch) => `o${ch} * inv`, TOKEN_MAJOR_ROW).map((x) => `  ${x}`));
    L.push('  LSE[zN + i] = m + log(l);', '}');
    return L;
  });
}

/**
 * dq pass: lane row = query. P is recomputed from the saved log-sum-exp, dS = P ∘ (dO·vᵀ − D) with
 * D = rowsum(dO ∘ O) computed here (this pass reads both rows anyway) and stored for the dk/dv pass.
 */
export function dqKernel(d: number, dtype: AttentionDType, cfg: AttentionConfig, v4: Vec4Flags): AttentionKernel {
  const k: KernelShape = {
    d,
    dtype,
    cfg,
    strided: ['q', 'k', 'v', 'o', 'g'].map((name) => ({ name, vec4: v4[name as keyof Vec4Flags] })),
    plain: ['LSE'],
    outRows: ['DQ'],
    outScalars: ['DD'],
  };
  const C = range(chunks(d));
  return build(k, ['k', 'v'], [], (s) => {
    const L: string[] = [];
    for (const ch of C) L.push(`let q${ch} = ld4_q(r, ${ch}u) * SCALE();`, `let g${ch} = ld4_g(r, ${ch}u);`, `var dq${ch} = vec4<f32>(0.0);`);
    L.push(...dotChunks(d, (ch) => `g${ch}`, (ch) => `ld4_o(r, ${ch}u)`, 'Di'));
    L.push('let lse = LSE[zN + r];');
    L.push(`for (var j0 = 0u; j0 < NN(); j0 += ${cfg.bc}u) {`);
    const B: string[] = [...s.block, `for (var jj = 0u; jj < ${cfg.bc}u; jj++) {`];
    const R: string[] = [...s.row('k', 'jj', ''), ...s.row('v', 'jj', '')];
    R.push(...dotChunks(d, (ch) => `q${ch}`, (ch) => s.v4('k', 'jj', ch, ''), 's'));
    R.push('let p = select(0.0, exp(s - lse), j0 + jj < NN());');
    R.push(...dotChunks(d, (ch) => `g${ch}`, (ch) => s.v4('v', 'jj', ch, ''), 'dp'));
    R.push('let ds = vec4<f32>(p * (dp - Di));');
    for (const ch of C) R.push(`dq${ch} = fma(ds, ${s.v4('k', 'jj', ch, '')}, dq${ch});`);
    B.push(...R.map((x) => `  ${x}`), '}');
    L.push(...B.map((x) => `  ${x}`), '}');
    L.push('if (i < NN()) {');
    L.push(...storeRow(k, 'DQ', (ch) => `dq${ch} * SCALE()`).map((x) => `  ${x}`));
    L.push('  DD[zN + i] = Di;', '}');
    return L;
  });
}

/** dk/dv pass: lane row = key; streams query blocks with their log-sum-exp and D. Each key sums its own rows. */
export function dkvKernel(d: number, dtype: AttentionDType, cfg: AttentionConfig, v4: Vec4Flags): AttentionKernel {
  const k: KernelShape = {
    d,
    dtype,
    cfg,
    strided: ['q', 'k', 'v', 'g'].map((name) => ({ name, vec4: v4[name as keyof Vec4Flags] })),
    plain: ['LSE', 'DD'],
    outRows: ['DK', 'DV'],
    outScalars: [],
  };
  const C = range(chunks(d));
  return build(k, ['q', 'g'], ['LSE', 'DD'], (s) => {
    const L: string[] = [];
    for (const ch of C) {
      L.push(`let k${ch} = ld4_k(r, ${ch}u) * SCALE();`, `let v${ch} = ld4_v(r, ${ch}u);`);
      L.push(`var dk${ch} = vec4<f32>(0.0);`, `var dv${ch} = vec4<f32>(0.0);`);
    }
    L.push(`for (var j0 = 0u; j0 < NN(); j0 += ${cfg.bc}u) {`);
    const B: string[] = [...s.block, `for (var jj = 0u; jj < ${cfg.bc}u; jj++) {`];
    const R: string[] = [...s.row('q', 'jj', ''), ...s.row('g', 'jj', '')];
    R.push(...dotChunks(d, (ch) => `k${ch}`, (ch) => s.v4('q', 'jj', ch, ''), 's'));
    R.push(`let p = select(0.0, exp(s - ${s.scalar('LSE', 'jj')}), j0 + jj < NN());`);
    R.push(...dotChunks(d, (ch) => `v${ch}`, (ch) => s.v4('g', 'jj', ch, ''), 'dp'));
    R.push(`let ds = vec4<f32>(p * (dp - ${s.scalar('DD', 'jj')}));`, 'let pv = vec4<f32>(p);');
    for (const ch of C) {
      R.push(`dv${ch} = fma(pv, ${s.v4('g', 'jj', ch, '')}, dv${ch});`);
      R.push(`dk${ch} = fma(ds, ${s.v4('q', 'jj', ch, '')}, dk${ch});`);
    }
    B.push(...R.map((x) => `  ${x}`), '}');
    L.push(...B.map((x) => `  ${x}`), '}');
    L.push('if (i < NN()) {');
    L.push(...storeRow(k, 'DK', (ch) => `dk${ch} * SCALE()`).map((x) => `  ${x}`));
    L.push(...storeRow(k, 'DV', (ch) => `dv${ch}`).map((x) => `  ${x}`));
    L.push('}');
    return L;
  });
}
