import type { NonFiniteOp } from './runtime/nan-check.ts';
import { engine } from './runtime/engine.ts';

/**
 * NaN/Inf provenance for debugging a training run: while on, every f32 tensor an op produces is checked on the
 * GPU (one small extra dispatch per op, no waiting), and firstNonFiniteOp() names the earliest culprit.
 */
export function setNanCheck(on: boolean): void {
  engine().setNanCheck(on);
}

export function firstNonFiniteOp(): Promise<NonFiniteOp | null> {
  return engine().firstNonFiniteOp();
}

export type { NonFiniteOp };
