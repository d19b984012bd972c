import { keep } from '../memory.ts';
import { zeros } from '../ops/creation.ts';
import { Tensor } from '../tensor.ts';
import { TensorError } from '../errors.ts';
import { defineKernel, launch } from './fused.ts';

/**
 * What lets an optimizer step be skipped on the GPU (a loss scaler's found-inf value): the update kernels read
 * `flag` and leave everything unchanged when it is not zero, and `skips` (the optimizer's own one-element f32
 * counter) counts the steps skipped, so bias corrections can leave them out without the host ever waiting.
 */
export interface StepGate {
  /** A one-element f32 tensor (a view is fine): non-zero means skip this step. */
  flag: Tensor;
  skips: Tensor;
  /** The value of `skips` as the host last read it; kernels use exact host scalars while it still holds. */
  knownSkips: number;
}

const COUNT_SKIP = defineKernel(
  'optimizer_count_skip',
  [
    { name: 'gate', access: 'read' },
    { name: 'skips', access: 'read_write' },
  ],
  [{ name: 'gateOff', kind: 'u32' }],
  'if (gate[gateOff] != 0.0) { skips[0] = skips[0] + 1.0; }',
);

/** After a gated step's updates (dispatch order makes them read the count from before this step). */
export function countSkip(gate: StepGate): void {
  launch(COUNT_SKIP, [gate.flag.buffer, gate.skips.buffer], { gateOff: gate.flag.offset }, 1);
}

/** One f32 zero kept outside every scope: a skip counter, or a flag that never skips. */
export function newGpuZero(): Tensor {
  return keep(zeros([1]));
}

export function checkGateFlag(op: string, flag: Tensor): void {
  if (!(flag instanceof Tensor) || flag.disposed) throw new TensorError(op, 'skipIf must be a live tensor');
  if (flag.dtype !== 'f32' || flag.size !== 1) throw new TensorError(op, `skipIf must be one f32 element, got ${flag.dtype} of ${flag.size}`);
}
