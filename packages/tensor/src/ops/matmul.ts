import { record } from '../autograd/graph.ts';
import { shapeError, TensorError } from '../errors.ts';
import { launchMatmul, type MatmulPlan, planMatmul } from '../kernels/matmul-run.ts';
import { matmulConfig, type TuneResult, tuneMatmulPlan } from '../kernels/matmul-tune.ts';
import { broadcastShapes } from '../shape.ts';
import { assertTensor, Tensor } from '../tensor.ts';
import { sumToShape } from './sum-to-shape.ts';
import { bindsWhole, bytesOf, sliced } from './slice-axes.ts';
import { reshape } from './view.ts';

export interface MatmulOptions {
  /** Use the transpose of a's last two dims (read in place through strides, never copied). */
  transposeA?: boolean;
  transposeB?: boolean;
}

interface Checked {
  plan: MatmulPlan;
  outShape: number[];
}

/** Validates op(a)·op(b) (+ bias) and works out the output shape and kernel geometry. */
function check(op: string, a: Tensor, b: Tensor, tA: boolean, tB: boolean, bias: Tensor | null): Checked {
  assertTensor(op, a, 'a');
  assertTensor(op, b, 'b');
  // One storage type for every operand (f32, or f16 with f32 accumulation); mixing is refused, not promoted,
  // so an f16 model never silently runs an f32 product (cast the odd one out).
  const dtype = a.dtype;
  for (const [name, t] of [['a', a], ['b', b], ['bias', bias]] as const) {
    if (t && t.dtype !== 'f32' && t.dtype !== 'f16') {
      throw new TensorError(op, `${name} must be f32, got ${t.dtype} of shape [${t.shape.join(', ')}] (or f16 where the adapter has shader-f16)`);
    }
    if (t && t.dtype !== dtype) {
      throw new TensorError(op, `operands must share one dtype: a is ${dtype}, ${name} is ${t.dtype} (cast one of them)`);
    }
  }
  if (a.rank < 2 || b.rank < 2) throw shapeError(op, 'operands need at least 2 dimensions', a.shape, b.shape);
  const ka = a.shape[a.rank - (tA ? 2 : 1)];
  const kb = b.shape[b.rank - (tB ? 1 : 2)];
  if (ka !== kb) {
    const ops = `${tA ? 'aᵀ' : 'a'}·${tB ? 'bᵀ' : 'b'}`;
    throw shapeError(op, `inner dimensions differ for ${ops}: ${ka} vs ${kb}`, a.shape, b.shape);
  }
  const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
  if (!batch) throw shapeError(op, 'batch dimensions do not broadcast', a.shape, b.shape);
  const M = a.shape[a.rank - (tA ? 1 : 2)];
  const N = b.shape[b.rank - (tB ? 2 : 1)];
  if (bias && (bias.rank !== 1 || bias.shape[0] !== N)) throw shapeError(op, `bias must have shape [${N}]`, a.shape, b.shape, bias.shape);
  return { plan: planMatmul(a, b, tA, tB, batch, bias !== null), outShape: [...batch, M, N] };
}

/** The forward kernel alone: no autograd. */
function forward(op: string, { plan, outShape }: Checked, a: Tensor, b: Tensor, bias: Tensor | null): Tensor {
  const out = Tensor.empty(outShape, a.dtype, op);
  launchMatmul(op, plan, matmulConfig(plan), a, b, out, bias);
  return out;
}

/**
 * op(a)·op(b) (+ bias) in parts when a tensor it binds is larger than a binding: along the output's batch dims,
 * its rows (M), its columns (N), or the reduction (K, parts summed, the bias added once); `call` is the public
 * op on the narrowed operands. Null when nothing must slice.
 */
function slicedProduct(
  op: string,
  a: Tensor,
  b: Tensor,
  tA: boolean,
  tB: boolean,
  bias: Tensor | null,
  outShape: number[],
  call: (a: Tensor, b: Tensor, bias: Tensor | null) => Tensor,
): Tensor | null {
  if (bindsWhole([a, b, bias], bytesOf(outShape, a.dtype))) return null;
  const nb = outShape.length - 2;
  const batch = outShape.slice(0, nb);
  // An operand's dim along output batch dim d; -1 where it is missing or broadcast (size 1).
  const batchDims = (t: Tensor) =>
    batch.map((_, d) => {
      const i = d - (nb - (t.rank - 2));
      return i >= 0 && t.shape[i] !== 1 ? i : -1;
    });
  const [ra, rb] = [a.rank, b.rank];
  const kAxis = nb + 2;
  return sliced({
    op,
    sizes: [...batch, outShape[nb], outShape[nb + 1], a.shape[tA ? ra - 2 : ra - 1]],
    inputs: [
      { t: a, dims: [...batchDims(a), tA ? ra - 1 : ra - 2, -1, tA ? ra - 2 : ra - 1] },
      { t: b, dims: [...batchDims(b), -1, tB ? rb - 2 : rb - 1, tB ? rb - 1 : rb - 2] },
      bias && { t: bias, dims: [...batch.map(() => -1), -1, 0, -1] },
    ],
    out: { shape: outShape, dtype: a.dtype, dims: [...batch.map((_, d) => d), nb, nb + 1, -1] },
    part: ([pa, pb, pbias], axis, start) => call(pa!, pb!, axis === kAxis && start > 0 ? null : pbias),
  });
}

/** Sums a batched gradient to `shape`, freeing the unreduced one. */
function reduceTo(g: Tensor, shape: readonly number[]): Tensor {
  const r = sumToShape(g, shape);
  if (r !== g) g.dispose();
  return r;
}

/**
 * Σ over batch of op(x_b)ᵀ·g_b for a 2-D operand shared by every batch (weights): batch and rows fold into
 * the reduction, one 2-D matmul instead of a batched product and a sum.
 */
function foldedWeightGrad(x: Tensor, g: Tensor, tB: boolean): Tensor {
  const xf = reshape(x, [-1, x.shape[x.rank - 1]]);
  const gf = reshape(g, [-1, g.shape[g.rank - 1]]);
  const r = tB ? matmul(gf, xf, { transposeA: true }) : matmul(xf, gf, { transposeA: true });
  xf.dispose();
  gf.dispose();
  return r;
}

/** dL/da for C = op(a)·op(b): dC·op(b)ᵀ, or its transpose when a was transposed; never a copied transpose. */
function gradA(g: Tensor, a: Tensor, b: Tensor, tA: boolean, tB: boolean): Tensor {
  const full = tA ? matmul(b, g, { transposeA: tB, transposeB: true }) : matmul(g, b, { transposeB: !tB });
  return reduceTo(full, a.shape);
}

function gradB(g: Tensor, a: Tensor, b: Tensor, tA: boolean, tB: boolean): Tensor {
  if (b.rank === 2 && g.rank > 2 && !tA && a.rank === g.rank) return foldedWeightGrad(a, g, tB);
  const full = tB ? matmul(g, a, { transposeA: true, transposeB: tA }) : matmul(a, g, { transposeA: !tA });
  return reduceTo(full, b.shape);
}

/**
 * Batched matrix product with torch.matmul's batch broadcasting (including 4-D @ 2-D). Operands may be
 * strided views (transposes, slices, expands) and are read in place.
 */
export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  const tA = options.transposeA === true;
  const tB = options.transposeB === true;
  const checked = check('matmul', a, b, tA, tB, null);
  const parts = slicedProduct('matmul', a, b, tA, tB, null, checked.outShape, (pa, pb) => matmul(pa, pb, options));
  if (parts) return parts;
  const y = forward('matmul', checked, a, b, null);
  record(
    'matmul',
    [a, b],
    [y],
    ([g], [sa, sb]) => [sa.requiresGrad ? gradA(g!, sa, sb, tA, tB) : null, sb.requiresGrad ? gradB(g!, sa, sb, tA, tB) : null],
    [a, b],
  );
  return y;
}

/** x·Wᵀ + bias (torch.nn.functional.linear): weight is [out, in], the bias is added in the kernel's epilogue. */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  assertTensor('linear', x, 'x');
  assertTensor('linear', weight, 'weight');
  if (bias) assertTensor('linear', bias, 'bias');
  if (weight.rank !== 2) throw shapeError('linear', 'weight must be 2-D [out, in]', x.shape, weight.shape);
  if (x.rank < 2) throw shapeError('linear', 'x needs at least 2 dimensions [..., in]', x.shape, weight.shape);
  const checked = check('linear', x, weight, false, true, bias ?? null);
  const parts = slicedProduct('linear', x, weight, false, true, bias ?? null, checked.outShape, linear);
  if (parts) return parts;
  const y = forward('linear', checked, x, weight, bias ?? null);
  const inputs = bias ? [x, weight, bias] : [x, weight];
  record(
    'linear',
    inputs,
    [y],
    ([g], [sx, sw]) => {
      const out: (Tensor | null)[] = [
        sx.requiresGrad ? gradA(g!, sx, sw, false, true) : null,
        sw.requiresGrad ? gradB(g!, sx, sw, false, true) : null,
      ];
      if (bias) out.push(sumToShape(g!, [g!.shape[g!.rank - 1]]));
      return out;
    },
    [x, weight],
  );
  return y;
}

/**
 * Times a few tile configurations for op(a)·op(b) on this adapter and remembers the fastest for the shape's
 * class (in memory, per adapter). Later matmuls of that class use it.
 */
export async function autotuneMatmul(a: Tensor, b: Tensor, options: MatmulOptions & { bias?: Tensor } = {}): Promise<TuneResult> {
  const tA = options.transposeA === true;
  const tB = options.transposeB === true;
  const bias = options.bias ?? null;
  const { plan, outShape } = check('autotuneMatmul', a, b, tA, tB, bias);
  const out = Tensor.empty(outShape, a.dtype, 'autotuneMatmul');
  try {
    return await tuneMatmulPlan(plan, (cfg) => launchMatmul('autotuneMatmul', plan, cfg, a, b, out, bias));
  } finally {
    out.dispose();
  }
}

declare module '../tensor.ts' {
  interface Tensor {
    matmul(b: Tensor, options?: MatmulOptions): Tensor;
  }
}
Tensor.prototype.matmul = function (this: Tensor, b: Tensor, options?: MatmulOptions) {
  return matmul(this, b, options);
};
