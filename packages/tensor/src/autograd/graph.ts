import { type DType, isFloat } from '../dtype.ts';
import { TensorError } from '../errors.ts';
import { scope } from '../memory.ts';
import { hooks, type Tensor } from '../tensor.ts';

/**
 * Reverse-mode autograd on a tape of nodes. A node saves its own handles on the tensors its backward needs,
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
      untrack(s);
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

  /** Frees saved tensors; the node can no longer run backward. */
  free(): void {
    if (this.freed) return;
    this.freed = true;
    for (const s of this.saved) s.dispose();
    this.saved = [];
  }
}

let keepFromScopes: (t: Tensor) => void = () => {};
export function setUntrack(fn: (t: Tensor) => void): void {
  keepFromScopes = fn;
}
function untrack(t: Tensor): void {
  keepFromScopes(t);
}

function releaseNode(node: GradNode): void {
  if (--node.refs > 0) return;
  node.free();
  for (const e of node.edges) if (e?.node) releaseNode(e.node);
}
hooks.releaseNode = releaseNode;

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
    releaseNode(node);
  }
}

/** Marks a leaf tensor as a parameter whose gradient backward() accumulates into .grad. */
export function requireGrad(t: Tensor, on = true): Tensor {
  if (on && !isFloat(t.dtype)) throw new TensorError('requiresGrad', `only f32 tensors (or f16) can require grad, got ${t.dtype}`);
  if (!t.isLeaf) throw new TensorError('requiresGrad', 'only leaf tensors can be marked; use detach() first');
  t.requiresGrad = on;
  return t;
}

export interface BackwardOptions {
  /** Keep saved tensors so backward can run again through the same graph. */
  retainGraph?: boolean;
  /** Record the backward computation itself (for higher-order gradients). */
  createGraph?: boolean;
}

export interface GradOps {
  onesLike(t: Tensor): Tensor;
  add(a: Tensor, b: Tensor): Tensor;
  cast(t: Tensor, dtype: DType): Tensor;
}
let gradOps: GradOps | null = null;
export function setGradOps(ops: GradOps): void {
  gradOps = ops;
}

/** Backpropagates from `root`, accumulating into the .grad of every leaf that requires grad. */
export function backward(root: Tensor, gradient?: Tensor, options: BackwardOptions = {}): void {
  const ops = gradOps!;
  if (!root.requiresGrad) {
    throw new TensorError('backward', `tensor from ${root.op} does not require grad: no input of its graph requires grad`);
  }
  if (!gradient && root.size !== 1) {
    throw new TensorError('backward', `implicit gradient needs a scalar, got shape [${root.shape.join(', ')}]; pass a gradient`);
  }
  const seed = gradient ?? ops.onesLike(root);
  if (!root.gradNode) {
    accumulateLeaf(root, seed, ops, gradient !== undefined);
    return;
  }
  const order = topoOrder(root.gradNode);
  const pending = new Map<GradNode, (Tensor | null)[]>();
  pending.set(root.gradNode, outputSlots(root.gradNode, root.gradIndex, seed, gradient !== undefined));
  const run = () => {
    for (const node of order) {
      const grads = pending.get(node);
      pending.delete(node);
      if (!grads) continue;
      if (node.freed) {
        throw new TensorError('backward', `the graph through ${node.op} was already freed; pass { retainGraph: true } to the first backward()`);
      }
      // A scope per rule frees the rule's intermediates (a reshape before an expand, say) at once.
      const inGrads = scope(() => node.backward(grads, node.saved));
      // A rule may pass a gradient through unchanged, or route one tensor to two inputs: give each
      // destination its own handle so that freeing one never frees another.
      const handedOut = new Set<Tensor>(grads.filter((g): g is Tensor => g !== null));
      node.edges.forEach((edge, i) => {
        let g = inGrads[i];
        if (!g) return;
        if (!edge) {
          if (!handedOut.has(g)) g.dispose();
          return;
        }
        if (g.dtype !== edge.dtype) {
          const c = ops.cast(g, edge.dtype);
          if (!handedOut.has(g)) g.dispose();
          g = c;
        } else if (handedOut.has(g)) g = g.view(g.shape, g.strides, g.offset, 'grad');
        handedOut.add(g);
        if (edge.leaf) {
          accumulateLeaf(edge.leaf, g, ops, false);
        } else if (edge.node) {
          let slots = pending.get(edge.node);
          if (!slots) pending.set(edge.node, (slots = edge.node.outputShapes.map(() => null)));
          const prev = slots[edge.index];
          if (prev) {
            slots[edge.index] = ops.add(prev, g);
            prev.dispose();
            g.dispose();
          } else slots[edge.index] = g;
        }
      });
      for (const g of grads) g?.dispose();
      if (!(options.retainGraph ?? options.createGraph)) node.free();
    }
  };
  if (options.createGraph) enableGrad(run);
  else noGrad(run);
}

function outputSlots(node: GradNode, index: number, seed: Tensor, userOwned: boolean): (Tensor | null)[] {
  const slots: (Tensor | null)[] = node.outputShapes.map(() => null);
  // The backward loop disposes consumed gradients; never the caller's own tensor.
  slots[index] = userOwned ? seed.view(seed.shape, seed.strides, seed.offset, 'grad') : seed;
  return slots;
}

function accumulateLeaf(leaf: Tensor, g: Tensor, ops: GradOps, userOwned: boolean): void {
  const own = userOwned ? g.view(g.shape, g.strides, g.offset, 'grad') : g;
  untrack(own);
  if (leaf.grad && !leaf.grad.disposed) {
    const sum = ops.add(leaf.grad, own);
    untrack(sum);
    leaf.grad.dispose();
    own.dispose();
    leaf.grad = sum;
  } else {
    leaf.grad = own;
  }
}

/** Nodes in an order where every node comes before the nodes that produced its inputs. */
function topoOrder(root: GradNode): GradNode[] {
  const visited = new Set<GradNode>();
  const post: GradNode[] = [];
  const stack: [GradNode, number][] = [[root, 0]];
  visited.add(root);
  while (stack.length) {
    const top = stack[stack.length - 1];
    const [node, i] = top;
    if (i < node.edges.length) {
      top[1]++;
      const child = node.edges[i]?.node;
      if (child && !visited.has(child)) {
        visited.add(child);
        stack.push([child, 0]);
      }
    } else {
      post.push(node);
      stack.pop();
    }
  }
  return post.reverse();
}
