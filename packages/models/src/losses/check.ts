import { formatShape, type Tensor, TensorError } from '@seco/tensor';

/** Input validation shared by the losses: every failure names the loss and the shapes involved. */
export function fail(op: string, message: string, ...shapes: readonly (readonly number[])[]): never {
  const s = shapes.length ? ` (shapes ${shapes.map(formatShape).join(', ')})` : '';
  throw new TensorError(op, `${message}${s}`);
}

export function expectRank(op: string, name: string, t: Tensor, rank: number, layout: string): void {
  if (!t || typeof t !== 'object' || !('shape' in t)) throw new TensorError(op, `${name} must be a Tensor`);
  if (t.rank !== rank) fail(op, `${name} must be ${layout}, got rank ${t.rank}`, t.shape);
}

export function expectFloat(op: string, name: string, t: Tensor): void {
  if (t.dtype !== 'f32') fail(op, `${name} must be f32, got ${t.dtype}`, t.shape);
}

/** Flags are SeCo's tags (−1, 0, class id) as f32 or i32, shaped (n) or (n, 1). */
export function expectFlags(op: string, name: string, t: Tensor, n: number): void {
  if (!t || typeof t !== 'object' || !('shape' in t)) throw new TensorError(op, `${name} must be a Tensor`);
  const ok = (t.rank === 1 && t.shape[0] === n) || (t.rank === 2 && t.shape[0] === n && t.shape[1] === 1);
  if (!ok) fail(op, `${name} must be (${n}) or (${n}, 1)`, t.shape);
}
