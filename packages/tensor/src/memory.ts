import type { Tensor } from './tensor.ts';

/**
 * Deterministic freeing. scope(fn) disposes every tensor created inside fn that fn does not return and that
 * keep() did not claim; returned tensors move to the enclosing scope.
 */
const frames: Set<Tensor>[] = [];

export function trackTensor(t: Tensor): void {
  frames[frames.length - 1]?.add(t);
}

/** Removes a tensor from every enclosing scope: its owner disposes it. */
export function keep<T extends Tensor | null | undefined>(t: T): T {
  if (t) for (const f of frames) f.delete(t);
  return t;
}

export function scope<R>(fn: () => R): R {
  const frame = new Set<Tensor>();
  frames.push(frame);
  let result: R;
  try {
    result = fn();
    if (result instanceof Promise) {
      throw new Error('scope(fn) needs a synchronous fn: tensors created across an await cannot be tracked');
    }
  } finally {
    frames.pop();
  }
  const returned = new Set<Tensor>();
  collectTensors(result, returned, 0);
  const parent = frames[frames.length - 1];
  for (const t of frame) {
    if (returned.has(t)) parent?.add(t);
    else t.dispose();
  }
  return result;
}

/** Alias familiar from TensorFlow.js. */
export const tidy = scope;

function collectTensors(v: unknown, out: Set<Tensor>, depth: number): void {
  if (v === null || typeof v !== 'object' || depth > 8) return;
  if (isTensor(v)) {
    out.add(v);
    return;
  }
  if (Array.isArray(v)) for (const x of v) collectTensors(x, out, depth + 1);
  else if (v instanceof Map) for (const x of v.values()) collectTensors(x, out, depth + 1);
  else if (Object.getPrototypeOf(v) === Object.prototype) for (const x of Object.values(v)) collectTensors(x, out, depth + 1);
}

function isTensor(v: object): v is Tensor {
  return (v as { __isTensor?: boolean }).__isTensor === true;
}

/** Debug leak tracking: the op that made each live tensor, and where. */
export const leakTracking = { enabled: false, live: new Map<number, { op: string; shape: readonly number[]; stack?: string }>() };

export function setLeakTracking(enabled: boolean): void {
  leakTracking.enabled = enabled;
  if (!enabled) leakTracking.live.clear();
}

export function liveTensors(): { id: number; op: string; shape: readonly number[]; stack?: string }[] {
  return [...leakTracking.live].map(([id, v]) => ({ id, ...v }));
}
