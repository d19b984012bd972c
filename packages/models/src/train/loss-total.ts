// How every method's step sums and watches its loss terms: Σ weight·term in the method's term order (so the total
// is the same to the bit as the original's order gives), and each term and the total under the divergence watch.
import { add, mul, type NonFiniteWatch, scope, type Tensor, zeros } from '@seco/tensor';
import type { StepTensors } from './step-tensors.ts';

/** Σ weights[t]·terms[t] over `order`, leaving out `later` (a term added after a host round trip) and 0 weights. */
export function weightedSum<T extends string>(order: readonly T[], terms: Partial<Record<T, Tensor>>, weights: Record<T, number>, later: T): Tensor {
  return scope(() => {
    let sum: Tensor = zeros([]);
    for (const t of order) if (t !== later && weights[t] !== 0 && terms[t]) sum = add(sum, mul(terms[t]!, weights[t]));
    return sum;
  });
}

/** Puts every present term (at its index in `order`) and the total (at index order.length) under the watch. */
export function watchLosses<T extends string>(at: { watch: NonFiniteWatch; step: number } | undefined, order: readonly T[], terms: Partial<Record<T, Tensor>>, total: Tensor): void {
  if (!at) return;
  order.forEach((t, i) => terms[t] && at.watch.watch(at.step, i, terms[t]!));
  at.watch.watch(at.step, order.length, total);
}

/**
 * The loss a step backpropagates: the weighted sum of the terms but the energy loss ('reg'), then, once its host
 * part is done, the energy loss added last (so `terms.reg` is set); all under the watch. Owned by `held`.
 */
export async function stepTotal<T extends string>(
  held: StepTensors,
  order: readonly (T | 'reg')[],
  terms: Partial<Record<T | 'reg', Tensor>>,
  weights: Record<T | 'reg', number>,
  watch: { watch: NonFiniteWatch; step: number } | undefined,
): Promise<Tensor> {
  const partial = held.own(weightedSum(order, terms, weights, 'reg'));
  const reg = await held.takeEnergy();
  if (reg) terms.reg = reg;
  const total = held.own(scope(() => (reg ? add(partial, mul(reg, weights.reg)) : partial)));
  watchLosses(watch, order, terms, total);
  return total;
}

/** The unweighted terms in `order` (one readback); a term not computed reads 0. */
export async function readLossTerms<T extends string>(order: readonly T[], terms: Partial<Record<T, Tensor>>): Promise<Record<T, number>> {
  const out = {} as Record<T, number>;
  const values = await Promise.all(order.map((t) => (terms[t] ? terms[t]!.item() : 0)));
  order.forEach((t, i) => (out[t] = values[i]));
  return out;
}
