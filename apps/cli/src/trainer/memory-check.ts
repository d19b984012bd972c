// The cheap check before data loads: the model is on the device already, and training adds a gradient and
// AdamW's two moments per trainable parameter. If those cannot fit the budget, say so now rather than after the
// loader started and iteration 1 ran most of its forward pass.
import { engine, GpuMemoryError, type Tensor } from '@seco/tensor';

/** AdamW's f32 exp_avg + exp_avg_sq per trainable element (an f16 parameter's f32 master exists already). */
const MOMENT_BYTES = 8;

export function checkTrainingStateFits(trainable: readonly Tensor[]): void {
  const e = engine();
  const budget = e.memoryBudgetBytes;
  if (!Number.isFinite(budget)) return;
  const elements = trainable.reduce((n, p) => n + p.size, 0);
  // The gradient has the parameter's dtype (2 bytes for a mixed-precision student's f16 weights).
  const bytes = trainable.reduce((n, p) => n + p.size * (MOMENT_BYTES + (p.dtype === 'f16' ? 2 : 4)), 0);
  const live = e.stats().liveBytes;
  if (live + bytes <= budget) return;
  throw new GpuMemoryError({
    kind: 'budget',
    request: { op: 'optimizer state', what: `the training state (gradients and AdamW moments of ${(elements / 1e6).toFixed(2)}M parameters)` },
    bytesAsked: bytes,
    liveBytes: live,
    limitBytes: budget,
    largest: e.pool.largestLive(),
    budgetSource: e.memoryBudgetSource,
  });
}
