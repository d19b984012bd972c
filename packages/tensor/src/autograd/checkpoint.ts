// Activation checkpointing (torch.utils.checkpoint): a segment's forward keeps none of its intermediates; its
// backward runs the segment again, with grad, and backpropagates through that. Memory for one segment's
// activations instead of all of them, for one more forward of the segment.
import { TensorError } from '../errors.ts';
import { detach } from '../ops/view.ts';
import type { Tensor } from '../tensor.ts';
import { grad } from './backward.ts';
import { enableGrad, isGradEnabled, noGrad, record, requireGrad } from './graph.ts';

/**
 * `fn(...inputs)`, differentiable with respect to `inputs` and `params` (the trainable tensors fn reads, e.g. a
 * module's parameters(): they become inputs of the recorded node, so their gradients arrive as from any op, and
 * post-accumulate hooks see them). fn must be deterministic (no dropout) and must not change `params` before
 * backward, which runs it again. Without grad this is just fn(...inputs).
 */
export function checkpoint(fn: (...inputs: Tensor[]) => Tensor, inputs: readonly Tensor[], params: readonly Tensor[]): Tensor {
  const trained = params.filter((p) => p.requiresGrad);
  for (const p of trained) if (!p.isLeaf) throw new TensorError('checkpoint', `params must be leaves; got a tensor from ${p.op}`);
  const all = [...inputs, ...trained];
  if (!isGradEnabled() || !all.some((t) => t.requiresGrad)) return fn(...inputs);
  const out = noGrad(() => fn(...inputs));
  const n = inputs.length;
  record(
    'checkpoint',
    all,
    [out],
    ([g], saved) => {
      if (!g) return all.map(() => null);
      // Fresh leaves stand for the saved inputs, so the rerun's graph ends at them and at the params.
      const again = saved.map((s, i) => {
        const leaf = detach(s);
        return inputs[i].requiresGrad ? requireGrad(leaf) : leaf;
      });
      try {
        const y = enableGrad(() => fn(...again));
        try {
          if (!y.requiresGrad) return all.map(() => null);
          const wrt = [...again.filter((t) => t.requiresGrad), ...trained];
          const got = grad(y, wrt, g);
          const byTensor = new Map(wrt.map((t, i) => [t, got[i]]));
          return [...again.map((t) => byTensor.get(t) ?? null), ...trained.map((p) => byTensor.get(p) ?? null)];
        } finally {
          y.dispose();
        }
      } finally {
        for (const t of again.slice(0, n)) t.dispose();
      }
    },
    inputs,
  );
  return out;
}
