import { type DType, isFloat } from '../dtype.ts';
import { TensorError } from '../errors.ts';
import { keep } from '../memory.ts';
import type { Tensor } from '../tensor.ts';

/**
 * Reverse-mode autograd on a tape of nodes (recording; the backward pass is in backward.ts). A node saves its own handles on the tensors its backward needs,
 * so scope() disposing the originals frees nothing the graph still uses. Backward rules are written with ops,
 * so each rule is itself a tested, differentiable computation.
 */
export type BackwardFn = (grads: (Tensor | null)[], saved: readonly Tensor[]) => (Tensor | null | undefined)[];

interface Edge {
  /** Producer of the input when it is not a leaf. */
  node: GradNode | null;
  index: number;
  /** The input's dtype: its gradient is delivered in it (an f16 input of a mixed op gets an f16 gradient). */
  dtype: DType;
  /** The input itself when it is a leaf that requires grad. */
  leaf: Tensor | null;
}

export class GradNode {
  readonly edges: (Edge | null)[];
  saved: Tensor[];
  /** Live references: output tensors and consumer nodes. */
  refs = 0;
  freed = false;

  constructor(
    readonly op: string,
    inputs: readonly Tensor[],
    readonly outputShapes: (readonly number[])[],
    readonly backward: BackwardFn,
    saved: readonly Tensor[],
  ) {
    this.edges = inputs.map((t) => {
      if (!t.requiresGrad) return null;
      if (t.gradNode) {
        t.gradNode.refs++;
        return { node: t.gradNode, index: t.gradIndex, leaf: null, dtype: t.dtype };
      }
      return { node: null, index: 0, leaf: t.leafSource ?? t, dtype: t.dtype };
    });
    this.saved = saved.map((t) => {
      const s = t.view(t.shape, t.strides, t.offset, `${op}:saved`);
      keep(s);
      // Saved inputs stay differentiable, so createGraph can differentiate a backward rule.
      if (t.requiresGrad) {
        s.requiresGrad = true;
        s.gradNode = t.gradNode;
        s.gradIndex = t.gradIndex;
        if (t.gradNode) t.gradNode.refs++;
        else s.leafSource = t.leafSource ?? t;
      }
      return s;
    });
  }

  /** Drops one reference (an output tensor or a consumer node); the last one frees the node and its producers. */
  release(): void {
    if (--this.refs > 0) return;
    this.free();
    for (const e of this.edges) if (e?.node) e.node.release();
  }

  /** Frees saved tensors; the node can no longer run backward. */
  free(): void {
    if (this.freed) return;
    this.freed = true;
    for (const s of this.saved) s.dispose();
    this.saved = [];
  }
}


let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs fn without recording operations for autograd. */
export function noGrad<R>(fn: () => R): R {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

export function enableGrad<R>(fn: () => R): R {
  const prev = gradEnabled;
  gradEnabled = true;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/** True when an op on these inputs must be recorded. */
export function needsGrad(inputs: readonly (Tensor | null | undefined)[]): boolean {
  if (!gradEnabled) return false;
  return inputs.some((t) => t?.requiresGrad);
}

/**
 * Records outputs = op(inputs) for autograd when grad is on and an input requires it. `save` lists the tensors
 * the backward rule reads (it receives its own handles on them).
 */
export function record(
  op: string,
  inputs: readonly Tensor[],
  outputs: readonly Tensor[],
  backward: BackwardFn,
  save: readonly Tensor[] = [],
): void {
  if (!needsGrad(inputs)) return;
  const node = new GradNode(op, inputs, outputs.map((o) => o.shape), backward, save);
  outputs.forEach((o, i) => {
    if (!isFloat(o.dtype)) return;
    o.requiresGrad = true;
    o.gradNode = node;
    o.gradIndex = i;
    node.refs++;
    // A saved output links back to its own node without owning it (owning would be a cycle).
    save.forEach((t, k) => {
      if (t !== o) return;
      const s = node.saved[k];
      s.requiresGrad = true;
      s.gradNode = node;
      s.gradIndex = i;
      s.weakGradLink = true;
    });
  });
  if (node.refs === 0) {
    // No differentiable output: nothing will ever run this node.
    node.refs = 1;
    node.release();
  }
}

/** Marks a leaf tensor as a parameter whose gradient backward() accumulates into .grad. */
export function requireGrad(t: Tensor, on = true): Tensor {
  if (on && !isFloat(t.dtype)) throw new TensorError('requiresGrad', `only f32 tensors (or f16) can require grad, got ${t.dtype}`);
  if (!t.isLeaf) throw new TensorError('requiresGrad', 'only leaf tensors can be marked; use detach() first');
  t.requiresGrad = on;
  return t;
}
