import {
  add, amax, cast, detach, div, eq, exp, ge, gt, log, logicalAnd, lt, matmul, maximum, mean, mul, narrow, ne,
  reshape, scope, sub, sum, type Tensor, where,
} from '@seco/tensor';
import { expectFlags, expectFloat, expectRank, fail } from '../../losses/check.ts';
import { contrastTemperatures } from './temperatures.ts';

export interface LilOptions {
  /** SeCo's base_T for LIL: 0.08. */
  temperature?: number;
  /** Defaults to the temperature (SeCo passes the same value), making the T/T_b factor 1. */
  baseTemperature?: number;
}

export interface LilResult {
  loss: Tensor;
  /** The flags after the row-noise filter, as SeCo's in-place revision leaves them; LIG consumes these. */
  flagsRevised: Tensor;
}

/**
 * LIL, SeCo's local-to-local tag-guided contrast with the queue (LIL_Loss, model/losses.py), replicated as the
 * code runs it rather than as textbook SupCon (spec §3.6c, quirk 7):
 *
 *   s = q·Kᵀ/T over the keys K = queueAll[b:]; l = s − max_j s (the max detached);
 *   P = [f_i == g_j]; rows with f_i == −1 get P = 0 and l = 0; lp = l ⊙ P;
 *   noise filter per row: with m = mean_j lp_ij over all N columns, if #(lp < m) / (#(lp ≥ m) + 1e-6) > 10
 *     then f_i ← 0 and lp_i· ← 0 (only lp, not l: the row still enters Z);
 *   columns with g_j == −1 get l = 0; E = exp(l)·[exp(l) ≠ 1] (this also drops each row's own max);
 *   Z_i = Σ_j E_ij; logp_ij = lp_ij − log(Z_i + 1e-12) in EVERY column;
 *   L = −(T/T_b)·(1/b)·Σ_{valid i} Σ_j logp_ij / nnz, nnz = count of nonzero lp over the whole matrix,
 *   valid = nnz > 0 and Z_i > 0 and Σ_j logp_ij < 0.
 *
 * q (b, D) are the student's projected views; queueAll (b + N, D) is SeCo's queue_feats_all (its first b rows,
 * the queries themselves, are skipped as the original does); flags (b) and flagsAll (b + N) the tags.
 * Everything stays on the GPU: no readback.
 */
export function lilLoss(q: Tensor, queueAll: Tensor, flags: Tensor, flagsAll: Tensor, options: LilOptions = {}): LilResult {
  const op = 'lilLoss';
  expectRank(op, 'q', q, 2, '(b, D)');
  expectFloat(op, 'q', q);
  expectRank(op, 'queueAll', queueAll, 2, '(b + N, D)');
  const [b, D] = q.shape;
  const N = queueAll.shape[0] - b;
  if (queueAll.shape[1] !== D || N < 1) fail(op, `queueAll must be (b + N, D) with N ≥ 1 keys after the ${b} queries`, q.shape, queueAll.shape);
  expectFlags(op, 'flags', flags, b);
  expectFlags(op, 'flagsAll', flagsAll, b + N);
  const { T, Tb } = contrastTemperatures(op, options, 0.08);
  return scope(() => {
    const f = reshape(flags, [b, 1]);
    const g = reshape(narrow(reshape(flagsAll, [b + N]), 0, b, N), [1, N]);
    const s = div(matmul(q, narrow(queueAll, 0, b, N), { transposeB: true }), T);
    const l0 = sub(s, detach(amax(s, 1, true)));
    const rowOk = ne(f, -1);
    const l1 = where(rowOk, l0, 0);
    const lp0 = where(logicalAnd(eq(f, g), rowOk), l1, 0);
    // The noise filter counts are integers, so count_lt / (count_ge + 1e-6) > 10 is count_lt > 10·count_ge.
    const m = mean(lp0, 1, true);
    const noisy = gt(sum(lt(lp0, m), 1, true), mul(sum(ge(lp0, m), 1, true), 10));
    const lp = where(noisy, 0, lp0);
    const flagsRevised = reshape(where(noisy, 0, f), flags.shape);
    const l = where(ne(g, -1), l1, 0);
    const e = exp(l);
    // torch drops exp(l) == 1; l == 0 is tested too so that the rule never rests on exp(0) being exact.
    const E = where(logicalAnd(ne(l, 0), ne(e, 1)), e, 0);
    const Z = sum(E, 1, true);
    const rowSum = sub(sum(lp, 1, true), mul(log(add(Z, 1e-12)), N));
    const nnz = cast(sum(ne(lp, 0)), 'f32');
    const valid = logicalAnd(logicalAnd(gt(nnz, 0), gt(Z, 0)), lt(rowSum, 0));
    const total = sum(where(valid, rowSum, 0));
    // nnz == 0 leaves no valid row (total 0): max(nnz, 1) only avoids 0/0.
    const loss = mul(div(total, maximum(nnz, 1)), -(T / Tb) / b);
    return { loss, flagsRevised };
  });
}
