import {
  add, arange, cast, div, eq, exp, gt, log, logicalAnd, matmul, mul, ne, reshape, scope, sub, sum, type Tensor, where,
} from '@seco/tensor';
import { expectFlags, expectFloat, expectRank, fail } from '../../losses/check.ts';
import { contrastTemperatures } from './temperatures.ts';

export interface LigOptions {
  /** SeCo's base_T for LIG: 0.1. */
  temperature?: number;
  baseTemperature?: number;
}

/**
 * LIG, SeCo's local-to-global contrast against class prototypes (LIG_Loss, model/losses.py; spec §3.6d):
 *
 *   s_ic = q_i·p_c / T (no max-subtraction, as the original: |s| ≤ 1/T);
 *   P_ic = [f_i == c] for c = 1..C; present = classes c ∈ f (never 0 or −1); la = s·[c present];
 *   E = exp(la)·[exp(la) ≠ 1]; Z_i = Σ_c E_ic; logp_ic = (s·P − log(Z_i + 1e-12))·[s·P ≠ 0];
 *   L = −(T/T_b)·Σ_{i: Z_i > 0} Σ_c logp_ic / ΣP   (ΣP = 0: divided by b instead; the sum is then 0).
 *
 * flags must be LIL's flagsRevised. prototypes (C, D) are treated as given (SeCo detaches them; pass a
 * detached tensor). A flag above C has no prototype: it is left out here, where the original would fail.
 */
export function ligLoss(q: Tensor, prototypes: Tensor, flags: Tensor, options: LigOptions = {}): Tensor {
  const op = 'ligLoss';
  expectRank(op, 'q', q, 2, '(b, D)');
  expectFloat(op, 'q', q);
  expectRank(op, 'prototypes', prototypes, 2, '(C, D)');
  const [b, D] = q.shape;
  const C = prototypes.shape[0];
  if (prototypes.shape[1] !== D) fail(op, 'q and prototypes must have the same feature size', q.shape, prototypes.shape);
  expectFlags(op, 'flags', flags, b);
  const { T, Tb } = contrastTemperatures(op, options, 0.1);
  return scope(() => {
    const f = reshape(flags, [b, 1]);
    const classes = reshape(arange(1, C + 1, 1, f.dtype), [1, C]);
    const P = eq(f, classes);
    const present = gt(sum(P, 0, true), 0);
    const s = div(matmul(q, prototypes, { transposeB: true }), T);
    const la = where(present, s, 0);
    const e = exp(la);
    const E = where(logicalAnd(ne(la, 0), ne(e, 1)), e, 0);
    const Z = sum(E, 1, true);
    const lp = where(P, s, 0);
    const logp = where(ne(lp, 0), sub(lp, log(add(Z, 1e-12))), 0);
    const total = sum(where(gt(Z, 0), sum(logp, 1, true), 0));
    const nPos = cast(sum(P), 'f32');
    return mul(div(total, where(gt(nPos, 0), nPos, b)), -(T / Tb));
  });
}
