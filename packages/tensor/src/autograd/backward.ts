// The backward pass over the tape that graph.ts records. Its own module so that it can use ops (add, cast,
// onesLike) by plain import: the ops import graph.ts to record, so graph.ts itself cannot import them.
import { TensorError } from '../errors.ts';
import { keep, scope } from '../memory.ts';
import { onesLike } from '../ops/creation.ts';
import { add, cast } from '../ops/elementwise.ts';
import type { Tensor } from '../tensor.ts';
import { enableGrad, type GradNode, noGrad } from './graph.ts';

export interface BackwardOptions {
  /** Keep saved tensors so backward can run again through the same graph. */
  retainGraph?: boolean;
  /** Record the backward computation itself (for higher-order gradients). */
  createGraph?: boolean;
}

/** Backpropagates from `root`, accumulating into the .grad of every leaf that requires grad. */
export function backward(root: Tensor, gradient?: Tensor, options: BackwardOptions = {}): void {
  if (!root.requiresGrad) {
    throw new TensorError('backward', `tensor from ${root.op} does not require grad: no input of its graph requires grad`);
  }
  if (!gradient && root.size !== 1) {
    throw new TensorError('backward', `implicit gradient needs a scalar, got shape [${root.shape.join(', ')}]; pass a gradient`);
  }
  const seed = gradient ?? onesLike(root);
  if (!root.gradNode) {
    accumulateLeaf(root, seed, gradient !== undefined);
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
          const c = cast(g, edge.dtype);
          if (!handedOut.has(g)) g.dispose();
          g = c;
        } else if (handedOut.has(g)) g = g.view(g.shape, g.strides, g.offset, 'grad');
        handedOut.add(g);
        if (edge.leaf) {
          accumulateLeaf(edge.leaf, g, false);
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

function accumulateLeaf(leaf: Tensor, g: Tensor, userOwned: boolean): void {
  const own = userOwned ? g.view(g.shape, g.strides, g.offset, 'grad') : g;
  keep(own);
  if (leaf.grad && !leaf.grad.disposed) {
    const sum = add(leaf.grad, own);
    keep(sum);
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
