import type { DType } from '../dtype.ts';
import type { Tensor } from '../tensor.ts';
import type { MatmulPlan } from './matmul-run.ts';

/** Where a matmul operand sits: enough to make a fresh operand of the same layout (values do not matter). */
export interface OperandLayout {
  shape: number[];
  strides: number[];
  /** The view's offset modulo 4 (vec4 reads need the same alignment; the rest of the offset is irrelevant). */
  offset: number;
  dtype: DType;
  /** Elements a buffer needs to hold the view. */
  elements: number;
}

/** One launch of the matmul core, replayable on fresh buffers (tuning outside the op that made it). */
export interface RecordedMatmul {
  plan: MatmulPlan;
  a: OperandLayout;
  b: OperandLayout;
  bias: OperandLayout | null;
  out: OperandLayout;
}

let recording: Map<string, RecordedMatmul> | null = null;

function layoutOf(t: Tensor): OperandLayout {
  const offset = t.offset % 4;
  const last = t.shape.reduce((s, n, i) => s + (n - 1) * t.strides[i], 0);
  return { shape: [...t.shape], strides: [...t.strides], offset, dtype: t.dtype, elements: offset + last + 1 };
}

/** Starts keeping the first launch of every matmul geometry (e.g. over one training iteration). */
export function startMatmulRecording(): void {
  recording = new Map();
}

/** Stops recording and returns what was seen, one launch per geometry. */
export function stopMatmulRecording(): RecordedMatmul[] {
  const seen = [...(recording?.values() ?? [])];
  recording = null;
  return seen;
}

/** Called by launchMatmul for every launch; a no-op unless recording. */
export function recordMatmul(p: MatmulPlan, a: Tensor, b: Tensor, out: Tensor, bias: Tensor | null): void {
  if (!recording || a.size === 0 || b.size === 0) return;
  const v = p.variant;
  const key = `${p.M},${p.N},${p.K},${p.batchShape.join('x')}|${v.aVec4},${v.bVec4},${v.bias},${v.biasRows},${v.half},${v.bHook?.key ?? ''}`;
  if (recording.has(key)) return;
  recording.set(key, { plan: p, a: layoutOf(a), b: layoutOf(b), bias: bias && layoutOf(bias), out: layoutOf(out) });
}
