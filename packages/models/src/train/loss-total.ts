// How every method's step sums and watches its loss terms: Σ weight·term in the method's term order (so the total
// is the same to the bit as the original's order gives), and each term and the total under the divergence watch.
import { add, mul, type NonFiniteWatch, scope, type Tensor, zeros } from '@seco/tensor';

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
