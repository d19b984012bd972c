import { formatShape } from './shape.ts';

/** Every user-facing failure of the engine: names the op and the shapes involved. */
export class TensorError extends Error {
  constructor(
    readonly op: string,
    message: string,
  ) {
    super(`${op}: ${message}`);
    this.name = 'TensorError';
  }
}

export function shapeError(op: string, message: string, ...shapes: readonly (readonly number[])[]): TensorError {
  const s = shapes.length ? ` (shapes ${shapes.map(formatShape).join(', ')})` : '';
  return new TensorError(op, `${message}${s}`);
}
