import { needsGrad, record } from '../autograd/graph.ts';
import { shapeError, TensorError } from '../errors.ts';
import { bindableBytes } from '../kernels/binding.ts';
import { RowLayout, type RowOperand, runRowKernel } from '../kernels/rowwise.ts';
import { ceilDiv, UniformLayout } from '../kernels/uniforms.ts';
import { scope } from '../memory.ts';
import { engine } from '../runtime/engine.ts';
import { formatShape, numel, shapesEqual } from '../shape.ts';
import { assertTensor, Tensor } from '../tensor.ts';
import { add, mul, rsqrt, square, sub } from './elementwise.ts';
import { mean } from './reduce.ts';
import { sumToShape } from './sum-to-shape.ts';
import { reshape } from './view.ts';

function checkArgs(x: Tensor, normalizedShape: readonly number[], weight?: Tensor | null, bias?: Tensor | null): void {
  assertTensor('layer_norm', x);
  const k = normalizedShape.length;
  if (k === 0 || k > x.rank || !shapesEqual(x.shape.slice(x.rank - k), normalizedShape)) {
    throw shapeError('layer_norm', `normalized shape ${formatShape(normalizedShape)} is not the trailing shape of the input`, x.shape);
  }
  for (const [name, t] of [['weight', weight], ['bias', bias]] as const) {
    if (t === null || t === undefined) continue;
    assertTensor('layer_norm', t, name);
    if (!shapesEqual(t.shape, normalizedShape)) {
      throw shapeError('layer_norm', `${name} must have the normalized shape ${formatShape(normalizedShape)}`, x.shape, t.shape);
    }
    if (t.dtype !== 'f32' && t.dtype !== 'f16') throw new TensorError('layer_norm', `${name} must be f32 or f16, got ${t.dtype}`);
  }
  if (x.dtype !== 'f32' && x.dtype !== 'f16') throw shapeError('layer_norm', `needs an f32 or f16 tensor, got ${x.dtype}`, x.shape);
  if (x.dtype === 'f32' && (weight?.dtype === 'f16' || bias?.dtype === 'f16')) {
    throw new TensorError('layer_norm', 'an f32 input takes f32 weight and bias, got f16; cast them or the input');
  }
  if (numel(normalizedShape) === 0) throw shapeError('layer_norm', 'cannot normalize over zero elements', x.shape);
}

/**
 * Layer normalization over the trailing `normalizedShape` dims (a number means the last dim's size):
 * (x − mean) / sqrt(var + eps) · weight + bias with the biased variance. Statistics are two-pass in f32, which
 * stays accurate when the mean is large against the spread.
 *
 * f16: an f16 input gives an f16 output; weight and bias may each be f16 or f32 (f32 master parameters with f16
 * activations); every statistic and the affine step are computed in f32, and the saved mean/rstd stay f32.
 * Gradients come back in each operand's own dtype. An f32 input refuses f16 weight/bias.
 */
export function layerNorm(
  x: Tensor,
  normalizedShape: number | readonly number[],
  weight?: Tensor | null,
  bias?: Tensor | null,
  eps = 1e-5,
): Tensor {
  const ns = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
  checkArgs(x, ns, weight, bias);
  if (ns.length > 1) {
    // Several normalized dims are one row: flatten them (reshape copies only when the view needs it).
    const n = numel(ns);
    const lead = x.shape.slice(0, x.rank - ns.length);
    return scope(() => {
      const y = layerNorm(reshape(x, [...lead, n]), n, weight && reshape(weight, [n]), bias && reshape(bias, [n]), eps);
      return reshape(y, x.shape);
    });
  }
  return layerNormLastDim(x, weight ?? null, bias ?? null, eps);
}

function layerNormLastDim(x: Tensor, w: Tensor | null, b: Tensor | null, eps: number): Tensor {
  const d = x.rank - 1;
  const y = Tensor.empty(x.shape, x.dtype, 'layer_norm');
  const rowsShape = x.shape.slice(0, d);
  const meanT = Tensor.empty(rowsShape, 'f32', 'layer_norm');
  const rstdT = Tensor.empty(rowsShape, 'f32', 'layer_norm');
  const ops: RowOperand[] = [
    { name: 'x', t: x, kind: 'row' },
    ...(w ? [{ name: 'w', t: w, kind: 'col' as const }] : []),
    ...(b ? [{ name: 'b', t: b, kind: 'col' as const }] : []),
    { name: 'y', t: y, kind: 'row', write: true },
    { name: 'mean', t: meanT, kind: 'perRow', write: true },
    { name: 'rstd', t: rstdT, kind: 'perRow', write: true },
  ];
  const layout = new RowLayout(x.shape, d, ops, { floats: { eps } });
  const affine = `${w ? ' * ld_w(k)' : ''}${b ? ' + ld_b(k)' : ''}`;
  runRowKernel('layer_norm', layout, [
    { let: 'sx', reduce: 'sum', of: 'ld_x(k)' },
    { stmt: 'let mu = sx / f32(n);' },
    { let: 'sd', reduce: 'sum', of: '(ld_x(k) - mu) * (ld_x(k) - mu)' },
    // 1/sqrt, not inverseSqrt: WGSL lets inverseSqrt be coarser than a division.
    { stmt: 'let rs = 1.0 / sqrt(sd / f32(n) + P_eps());' },
    { each: `st_y(k, (ld_x(k) - mu) * rs${affine});` },
    { once: 'st_mean(mu); st_rstd(rs);' },
  ]);
  const wantX = x.requiresGrad;
  const wantW = w?.requiresGrad ?? false;
  const wantB = b?.requiresGrad ?? false;
  const inputs = [x, ...(w ? [w] : []), ...(b ? [b] : [])];
  record(
    'layer_norm',
    inputs,
    [y],
    ([g], [xs, ms, rs, ws]) => {
      const wv = w ? ws : null;
      const grads = needsGrad([g!, xs, wv])
        ? composedBackward(g!, xs, wv, eps)
        : fusedBackward(g!, xs, wv, ms, rs, wantX, wantW, wantB);
      return [grads.dx, ...(w ? [grads.dw] : []), ...(b ? [grads.db] : [])];
    },
    [x, meanT, rstdT, ...(w ? [w] : [])],
  );
  meanT.dispose();
  rstdT.dispose();
  return y;
}

interface LnGrads {
  dx: Tensor | null;
  dw: Tensor | null;
  db: Tensor | null;
}

function fusedBackward(g: Tensor, x: Tensor, w: Tensor | null, m: Tensor, r: Tensor, wantX: boolean, wantW: boolean, wantB: boolean): LnGrads {
  const d = x.rank - 1;
  let dx: Tensor | null = null;
  if (wantX) {
    dx = Tensor.empty(x.shape, x.dtype, 'layer_norm_backward');
    const layout = new RowLayout(x.shape, d, [
      { name: 'x', t: x, kind: 'row' },
      { name: 'g', t: g, kind: 'row' },
      ...(w ? [{ name: 'w', t: w, kind: 'col' as const }] : []),
      { name: 'mean', t: m, kind: 'perRow' },
      { name: 'rstd', t: r, kind: 'perRow' },
      { name: 'dx', t: dx, kind: 'row', write: true },
    ]);
    const helpers = `fn xh(k: u32) -> f32 { return (ld_x(k) - ld_mean()) * ld_rstd(); }
fn gh(k: u32) -> f32 { return ld_g(k)${w ? ' * ld_w(k)' : ''}; }`;
    // dx = rstd · (ĝ − mean(ĝ) − x̂ · mean(ĝ x̂)), ĝ = g·w: both means in one pass.
    runRowKernel(
      'layer_norm_backward',
      layout,
      [
        { let: 'ab', reduce: 'sum', type: 'vec2<f32>', of: 'vec2<f32>(gh(k), gh(k) * xh(k))' },
        { stmt: 'let c = ab / f32(n); let rs = ld_rstd();' },
        { each: 'st_dx(k, rs * (gh(k) - c.x - xh(k) * c.y));' },
      ],
      helpers,
    );
  }
  const affine = wantW || wantB ? weightGrads(g, x, m, r) : null;
  if (affine && !wantW) affine.dw.dispose();
  if (affine && !wantB) affine.db.dispose();
  return { dx, dw: wantW ? affine!.dw : null, db: wantB ? affine!.db : null };
}

const COL_WG = 64;
const MAX_CHUNKS = 64;
const MIN_ROWS_PER_CHUNK = 16;

/**
 * dweight = Σ_rows g·x̂ and dbias = Σ_rows g: a thread per (column, chunk of rows), so neighbouring threads read
 * neighbouring elements; the chunk partials are then summed by the reduction kernel.
 */
function weightGrads(g: Tensor, x: Tensor, m: Tensor, r: Tensor): { dw: Tensor; db: Tensor } {
  const d = x.rank - 1;
  const n = x.shape[d];
  const rows = numel(x.shape.slice(0, d));
  // The partials must fit one binding, as [chunks, n] floats.
  const chunks = Math.max(1, Math.min(MAX_CHUNKS, Math.floor(rows / MIN_ROWS_PER_CHUNK), Math.floor(bindableBytes() / (4 * n))));
  const pw = Tensor.empty([chunks, n], 'f32', 'layer_norm_backward');
  const pb = Tensor.empty([chunks, n], 'f32', 'layer_norm_backward');
  const whole = new RowLayout(
    x.shape,
    d,
    [
      { name: 'x', t: x, kind: 'row' },
      { name: 'g', t: g, kind: 'row' },
      { name: 'mean', t: m, kind: 'perRow' },
      { name: 'rstd', t: r, kind: 'perRow' },
      { name: 'pw', t: pw, kind: 'raw', write: true },
      { name: 'pb', t: pb, kind: 'raw', write: true },
    ],
    { ints: { chunk: 0, acc: 0 } },
  );
  const label = 'layer_norm_backward';
  // Rows past a binding run in slices; each slice adds its chunk sums to the partials of those before it.
  const slices = rows > 0 ? whole.slices(label) : [];
  slices.forEach((layout, i) => {
    layout.setInt('chunk', ceilDiv(layout.rows, chunks));
    layout.setInt('acc', i > 0 ? 1 : 0);
    const code = () => `${layout.declarations()}
@compute @workgroup_size(${COL_WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let k = gid.x;
  let c = gid.y;
  let n = N();
  if (k >= n) { return; }
  let r0 = c * P_chunk();
  let r1 = min(r0 + P_chunk(), NROWS());
  var sw = 0.0;
  var sb = 0.0;
  for (var r = r0; r < r1; r++) {
    let gv = ldr_g(r, k);
    sw += gv * (ldr_x(r, k) - ldr_mean(r)) * ldr_rstd(r);
    sb += gv;
  }
  if (P_acc() == 1u) { sw += pw[c * n + k]; sb += pb[c * n + k]; }
  pw[c * n + k] = sw;
  pb[c * n + k] = sb;
}`;
    engine().dispatch({ label, key: `layer_norm_weight_grads|${layout.signature}`, code, ...layout.bind(label), workgroups: [ceilDiv(n, COL_WG), chunks, 1] });
  });
  const grads = sumChunks(pw, pb, n, chunks);
  pw.dispose();
  pb.dispose();
  return grads;
}

const SUM_CHUNKS = new UniformLayout().field('n').field('chunks');

/** dweight and dbias from their [chunks, n] partials in one dispatch: a thread per column sums its chunks. */
function sumChunks(pw: Tensor, pb: Tensor, n: number, chunks: number): { dw: Tensor; db: Tensor } {
  const dw = Tensor.empty([n], 'f32', 'layer_norm_backward');
  const db = Tensor.empty([n], 'f32', 'layer_norm_backward');
  const code = `@group(0) @binding(0) var<storage, read> pw: array<f32>;
@group(0) @binding(1) var<storage, read> pb: array<f32>;
@group(0) @binding(2) var<storage, read_write> dw: array<f32>;
@group(0) @binding(3) var<storage, read_write> db: array<f32>;
${SUM_CHUNKS.declare(4)}
@compute @workgroup_size(${COL_WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let k = gid.x;
  let n = ${SUM_CHUNKS.at('n')};
  if (k >= n) { return; }
  var sw = 0.0;
  var sb = 0.0;
  for (var c = 0u; c < ${SUM_CHUNKS.at('chunks')}; c++) {
    sw += pw[c * n + k];
    sb += pb[c * n + k];
  }
  dw[k] = sw;
  db[k] = sb;
}`;
  engine().dispatch({
    label: 'layer_norm_backward',
    key: 'layer_norm_weight_grads_sum',
    code,
    buffers: [pw.buffer, pb.buffer, dw.buffer, db.buffer],
    uniforms: SUM_CHUNKS.pack({ n, chunks }),
    workgroups: ceilDiv(n, COL_WG),
  });
  return { dw, db };
}

/** The same gradients from differentiable ops, recomputing the statistics from x so that they too are differentiated. */
function composedBackward(g: Tensor, x: Tensor, w: Tensor | null, eps: number): LnGrads {
  return scope(() => {
    const d = x.rank - 1;
    const xc = sub(x, mean(x, d, true));
    const rs = rsqrt(add(mean(square(xc), d, true), eps));
    const xh = mul(xc, rs);
    const gh = w ? mul(g, w) : g;
    const dx = mul(rs, sub(sub(gh, mean(gh, d, true)), mul(xh, mean(mul(gh, xh), d, true))));
    const shape = [x.shape[d]];
    return { dx, dw: sumToShape(mul(g, xh), shape), db: sumToShape(g, shape) };
  });
}

declare module '../tensor.ts' {
  interface Tensor {
    layerNorm(normalizedShape: number | readonly number[], weight?: Tensor | null, bias?: Tensor | null, eps?: number): Tensor;
  }
}

Tensor.prototype.layerNorm = function (this: Tensor, normalizedShape, weight, bias, eps) {
  return layerNorm(this, normalizedShape, weight, bias, eps);
};
