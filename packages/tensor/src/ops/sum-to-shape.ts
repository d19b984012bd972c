// The backward step of every broadcasting op (elementwise, expand, bias adds): its own module, so those ops need
// not import the whole of reduce.ts for it.
import { type Shape, shapesEqual } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { sum } from './reduce.ts';
import { reshape } from './view.ts';

/** Sums a broadcast gradient back to the shape of the input it came from. */
export function sumToShape(g: Tensor, shape: Shape): Tensor {
  if (shapesEqual(g.shape, shape)) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  if (axes.length === 0) return reshape(g, shape);
  const s = sum(g, axes, true);
  const r = reshape(s, shape);
  s.dispose();
  return r;
}
