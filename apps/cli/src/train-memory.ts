// Out of GPU memory during `seco train`, as one message: where it happened (setting up, or which iteration), what
// was saved by then, the tensor asked for with its bytes, the bytes available and the largest live tensors, and
// which settings to lower. An expected error: main prints its message alone, without a stack.
import { engine, formatBytes, GpuMemoryError, hasEngine, MEMORY_BUDGET_ENV } from '@seco/tensor';
import type { SecoConfig } from './config/schema.ts';

export class TrainingMemoryError extends Error {
  override name = 'TrainingMemoryError';
}

/** Where training was when memory ran out: setting up (model, optimizer state), or in a (1-based) iteration. */
export type MemoryStage = { phase: 'setup' } | { phase: 'iteration'; iteration: number; lastCheckpoint: string | null };

function where(stage: MemoryStage): string {
  if (stage.phase === 'setup') return 'while setting up training (model and optimizer state), before iteration 1; no checkpoint was written';
  if (stage.lastCheckpoint === null) return `in iteration ${stage.iteration}, before anything was saved; no checkpoint was written`;
  return `in iteration ${stage.iteration}; the last checkpoint is ${stage.lastCheckpoint} (--resume continues from it)`;
}

function hint(e: GpuMemoryError, stage: MemoryStage, config: SecoConfig): string {
  const lower = `lower train.batch_size (now ${config.train.batch_size}) or train.crop_size (now ${config.train.crop_size})`;
  if (e.kind === 'buffer-limit') return `To fit, ${lower}: one tensor exceeds the device's largest buffer.`;
  const source = hasEngine() ? engine().memoryBudgetSource : 'unlimited';
  const budget =
    source === 'unlimited'
      ? `set ${MEMORY_BUDGET_ENV} (e.g. 8GiB) to the memory this run may use, to be stopped at the budget with this message`
      : source === "the device's memory heaps"
        ? ''
        : `raise ${MEMORY_BUDGET_ENV} above ${formatBytes(e.limitBytes)} if the device has more`;
  // Before iteration 1 only the model and its optimizer state are on the device: the batch does not matter yet.
  const shrink = stage.phase === 'setup' ? `use a smaller model (model.embed_dim ${config.model.embed_dim}, model.depth ${config.model.depth})` : lower;
  return `To fit, ${shrink}${budget ? `, or ${budget}` : ''}.`;
}

export function trainingMemoryError(e: GpuMemoryError, stage: MemoryStage, config: SecoConfig): TrainingMemoryError {
  return new TrainingMemoryError(`out of GPU memory ${where(stage)}. ${e.summary} ${hint(e, stage, config)}`, { cause: e });
}
