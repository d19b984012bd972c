// The engine's shapeError is internal to @seco/tensor; this is the same message format for model code.
import { formatShape, TensorError } from '@seco/tensor';

export function shapeError(op: string, message: string, ...shapes: readonly (readonly number[])[]): TensorError {
  const s = shapes.length ? ` (shapes ${shapes.map(formatShape).join(', ')})` : '';
  return new TensorError(op, `${message}${s}`);
}
