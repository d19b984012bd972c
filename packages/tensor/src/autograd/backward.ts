// The backward pass over the tape that graph.ts records. Its own module so that it can use ops (add, cast,
// onesLike) by plain import: the ops import graph.ts to record, so graph.ts itself cannot import them.
import { TensorError } from '../errors.ts';
import { keep, scope } from '../memory.ts';
import { onesLike } from '../ops/creation.ts';
import { add, cast } from '../ops/elementwise.ts';
import type { Tensor } from '../tensor.ts';
import { LeafAccumulator } from './accumulate.ts';
import { enableGrad, type GradNode, noGrad } from './graph.ts';

export interface BackwardOptions {
  /** Keep saved tensors so backward can run again through the same graph. */
  retainGraph?: boolean;
  /** Record the backward computation itself (for higher-order gradients). */
  createGraph?: boolean;
}

/** Backpropagates from `root`, accumulating into the .grad of every leaf that requires grad. */
export function backward(root: Tensor, gradient?: Tensor, options: BackwardOptions = {}): void {
  const seed = checkRoot('backward', root, gradient);
  if (!root.gradNode) {
    const sums = new LeafAccumulator();
    sums.add(root, seed, gradient !== undefined);
    sums.flush();
    for (const fn of [...root.postAccumulateGradHooks]) fn(root);
    return;
  }
  const order = topoOrder(root.gradNode);
  const hooked = new HookedLeaves(order);
  const sums = new LeafAccumulator();
  const sink = (leaf: Tensor, g: Tensor) => {
    sums.add(leaf, g, false);
    hooked.received(leaf);
  };
  try {
    propagate(root, order, outputSlots(root.gradNode, root.gradIndex, seed, gradient !== undefined), options, sink, (node) => hooked.passed(node, () => sums.flush()));
  } finally {
    sums.flush();
  }
}

/**
 * torch.autograd.grad: the gradients of `output` with respect to the leaves `inputs` (null where none flows),
 * returned instead of accumulated: no .grad changes and no hook runs. The graph is freed as by backward().
 */
export function grad(output: Tensor, inputs: readonly Tensor[], gradOutput?: Tensor, options: BackwardOptions = {}): (Tensor | null)[] {
  for (const t of inputs) if (!t.isLeaf) throw new TensorError('grad', `inputs must be leaves; got a tensor from ${t.op}`);
  const seed = checkRoot('grad', output, gradOutput);
  const index = new Map(inputs.map((t, i) => [t, i]));
  const out: (Tensor | null)[] = inputs.map(() => null);
  const sink = (leaf: Tensor, g: Tensor) => {
    const i = index.get(leaf);
    if (i === undefined) return g.dispose();
    keep(g);
    const prev = out[i];
    out[i] = prev ? keep(add(prev, g)) : g;
    if (prev) {
      prev.dispose();
      g.dispose();
    }
  };
  if (!output.gradNode) {
    sink(output, gradOutput ? seed.view(seed.shape, seed.strides, seed.offset, 'grad') : seed);
    return out;
  }
  const order = topoOrder(output.gradNode);
  propagate(output, order, outputSlots(output.gradNode, output.gradIndex, seed, gradOutput !== undefined), options, sink, () => {});
  return out;
}

function checkRoot(op: string, root: Tensor, gradient: Tensor | undefined): Tensor {
  if (!root.requiresGrad) {
    throw new TensorError(op, `tensor from ${root.op} does not require grad: no input of its graph requires grad`);
  }
  if (!gradient && root.size !== 1) {
    throw new TensorError(op, `implicit gradient needs a scalar, got shape [${root.shape.join(', ')}]; pass a gradient`);
  }
  return gradient ?? onesLike(root);
}

/**
 * Runs the rules of `order` from the root's gradient slots; each gradient that reaches a leaf goes to `sink`,
 * which owns it. `passed(node)` follows each node, whether it ran or had no gradient to run with.
 */
function propagate(
  root: Tensor,
  order: readonly GradNode[],
  rootSlots: (Tensor | null)[],
  options: BackwardOptions,
  sink: (leaf: Tensor, g: Tensor) => void,
  passed: (node: GradNode) => void,
): void {
  const pending = new Map<GradNode, (Tensor | null)[]>();
  pending.set(root.gradNode!, rootSlots);
  const run = () => {
    for (const node of order) {
      const grads = pending.get(node);
      pending.delete(node);
      if (!grads) {
        passed(node);
        continue;
      }
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
          const c = cast(g, edge.dtype);
          if (!handedOut.has(g)) g.dispose();
          g = c;
        } else if (handedOut.has(g)) g = g.view(g.shape, g.strides, g.offset, 'grad');
        handedOut.add(g);
        if (edge.leaf) {
          sink(edge.leaf, g);
        } else if (edge.node) {
          let slots = pending.get(edge.node);
          if (!slots) pending.set(edge.node, (slots = edge.node.outputShapes.map(() => null)));
          const prev = slots[edge.index];
          if (prev) {
            slots[edge.index] = add(prev, g);
            prev.dispose();
            g.dispose();
          } else slots[edge.index] = g;
        }
      });
      for (const g of grads) g?.dispose();
      if (!(options.retainGraph ?? options.createGraph)) node.free();
      passed(node);
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

/**
 * The leaves with post-accumulate hooks reached from a graph, and how many of its edges still lead to each: a
 * leaf's .grad is final once every node with an edge to it has run (or been passed over for lack of gradient).
 */
class HookedLeaves {
  private readonly remaining = new Map<Tensor, number>();
  private readonly got = new Set<Tensor>();

  constructor(order: readonly GradNode[]) {
    for (const node of order) {
      for (const e of node.edges) if (e?.leaf && e.leaf.postAccumulateGradHooks.length > 0) this.remaining.set(e.leaf, (this.remaining.get(e.leaf) ?? 0) + 1);
    }
  }

  received(leaf: Tensor): void {
    if (this.remaining.has(leaf)) this.got.add(leaf);
  }

  /**
   * After `node` ran or was passed over: hooks of leaves it was the last way into, when they got a gradient.
   * `settle` completes the .grad sums still waiting before a hook reads one.
   */
  passed(node: GradNode, settle: () => void): void {
    if (this.remaining.size === 0) return;
    for (const e of node.edges) {
      const leaf = e?.leaf;
      const left = leaf ? this.remaining.get(leaf) : undefined;
      if (!leaf || left === undefined) continue;
      if (left > 1) {
        this.remaining.set(leaf, left - 1);
        continue;
      }
      this.remaining.delete(leaf);
      if (!this.got.has(leaf)) continue;
      settle();
      for (const fn of [...leaf.postAccumulateGradHooks]) fn(leaf);
    }
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
