// Training in mixed precision, for any method (docs/ALGORITHM.md "Mixed precision"): the student trains as f16
// parameters through AdamW's f32 masters; the teachers (EMA targets) and SeCo's prototypes and queue stay f32, and
// the EMAs read the masters. A GradScaler scales the loss before backward and skips an overflowing step on the GPU.
import { type AdamW, cast, copyInto, type GradScaler, noGrad, type Tensor } from '@seco/tensor';
import type { WsssNetwork } from './method.ts';

export type Precision = 'f32' | 'mixed';

/**
 * Converts the student to f16 and builds its optimizer (which must be an AdamW over the student's parameters,
 * e.g. over net.paramGroups()), whose masters start from the f32 values as built or loaded, not from their f16
 * rounding. From then on the network's EMAs read those masters.
 */
export function toMixedPrecision<N extends WsssNetwork, O extends AdamW>(net: N, makeOptimizer: (net: N) => O): O {
  const modules = net.studentModules();
  const originals = new Map<Tensor, Tensor>();
  for (const m of modules) for (const p of m.parameters()) originals.set(p, noGrad(() => cast(p, 'f32')));
  let optimizer: O | null = null;
  try {
    for (const m of modules) m.to('f16');
    optimizer = makeOptimizer(net);
    for (const [p, f32] of originals) {
      const master = optimizer.masterWeight(p);
      if (!master) throw new Error(`mixed precision: the optimizer keeps no f32 master for a student parameter of shape [${p.shape.join(', ')}]`);
      copyInto(master, f32);
    }
  } catch (e) {
    optimizer?.dispose();
    throw e;
  } finally {
    for (const t of originals.values()) t.dispose();
  }
  const opt = optimizer;
  net.masterOf = (p) => opt.masterWeight(p);
  return opt;
}

/** The loss that is backpropagated: times the GPU loss scale under mixed precision, else the loss itself. */
export function lossToBackward(total: Tensor, scaler: GradScaler | undefined): Tensor {
  return scaler ? scaler.scale(total) : total;
}

/** The optimizer step: unscaled, skipped on the GPU on overflow, and the scale updated, under a scaler. */
export function optimizerStep(optimizer: AdamW, scaler: GradScaler | undefined): void {
  if (!scaler) {
    optimizer.step();
    return;
  }
  scaler.step(optimizer);
  scaler.update();
}
