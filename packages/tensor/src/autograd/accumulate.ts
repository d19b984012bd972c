// Leaf gradients summed several at a time. A parameter used by several forward passes (SeCo's student sees
// global and local crops) gets one gradient per use; summing each as it arrives took one dispatch per sum, about
// 300 per SeCo iteration. Here a sum into a .grad that nothing else views waits, and the waiting ones go out
// together through one multi-tensor kernel (optim/multi.ts): the same f32 additions, in the same order.
import { keep } from '../memory.ts';
import { add } from '../ops/elementwise.ts';
import { defineMulti, launchMulti, type MultiItem } from '../optim/multi.ts';
import { shapesEqual } from '../shape.ts';
import type { Tensor } from '../tensor.ts';

const ACCUMULATE = defineMulti(
  'grad_accumulate',
  [
    { name: 'g', access: 'read', offset: 'gOff' },
    { name: 'acc', access: 'read_write', offset: 'aOff' },
  ],
  [
    { name: 'gOff', kind: 'u32' },
    { name: 'aOff', kind: 'u32' },
  ],
  'acc[aOff + i] = acc[aOff + i] + g[gOff + i];',
);

/** Sums waiting before they go out: a multi-tensor dispatch takes at most 8, and each holds its gradient alive. */
const BATCH = 8;

export class LeafAccumulator {
  private pending: { acc: Tensor; g: Tensor }[] = [];
  /**
   * The .grad tensors this backward assigned: only those are summed into in place. A .grad from before may be
   * held by the caller (`const g = p.grad`), who expects it unchanged, as PyTorch gives a referenced grad.
   */
  private readonly made = new WeakSet<Tensor>();

  /** leaf.grad += g (g is owned from here on; a user's tensor is viewed, never consumed). */
  add(leaf: Tensor, g: Tensor, userOwned: boolean): void {
    const own = userOwned ? g.view(g.shape, g.strides, g.offset, 'grad') : g;
    keep(own);
    const acc = leaf.grad;
    if (!acc || acc.disposed) {
      leaf.grad = own;
      this.made.add(own);
      return;
    }
    if (this.made.has(acc) && summableInPlace(acc, own)) {
      this.pending.push({ acc, g: own });
      if (this.pending.length >= BATCH) this.flush();
      return;
    }
    const sum = keep(add(acc, own));
    acc.dispose();
    own.dispose();
    leaf.grad = sum;
    this.made.add(sum);
  }

  /** Encodes every waiting sum; call before anything reads a .grad (the end of backward, a gradient hook). */
  flush(): void {
    if (this.pending.length === 0) return;
    const items: MultiItem[] = this.pending.map(({ acc, g }) => ({ buffers: [g.buffer, acc.buffer], values: { gOff: g.offset, aOff: acc.offset }, n: acc.size }));
    try {
      launchMulti(ACCUMULATE, items);
    } finally {
      for (const { g } of this.pending) g.dispose();
      this.pending = [];
    }
  }
}

/**
 * In place only where it changes nothing else: an f32 .grad that is dense and the only view of its storage, and
 * a dense f32 gradient of the same shape in another storage; neither recorded (under createGraph the sum must
 * be an op of the graph).
 */
function summableInPlace(acc: Tensor, g: Tensor): boolean {
  return (
    !acc.requiresGrad &&
    !g.requiresGrad &&
    acc.dtype === 'f32' &&
    g.dtype === 'f32' &&
    acc.isContiguous &&
    g.isContiguous &&
    shapesEqual(acc.shape, g.shape) &&
    !acc.storage.shared &&
    acc.storage !== g.storage
  );
}
