// LIL's and LIG's temperatures: T, and the base T_b that scales each loss by T/T_b (SeCo passes T_b = T).
import { fail } from '../../losses/check.ts';

/** T from `options` (else the loss's default) and T_b (else T); throws, naming `op`, unless both are > 0. */
export function contrastTemperatures(op: string, options: { temperature?: number; baseTemperature?: number }, defaultT: number): { T: number; Tb: number } {
  const T = options.temperature ?? defaultT;
  const Tb = options.baseTemperature ?? T;
  if (!(T > 0) || !(Tb > 0)) fail(op, `temperatures must be > 0, got ${T} and ${Tb}`);
  return { T, Tb };
}
