import { keep } from '../memory.ts';
import { full } from '../ops/creation.ts';
import type { Tensor } from '../tensor.ts';
import { defineKernel, denseInput, launch } from './fused.ts';

const CHECK = defineKernel(
  'nonfinite_check',
  [
    { name: 'g', access: 'read', offset: 'gOff' },
    { name: 'flag', access: 'read_write', type: 'atomic' },
  ],
  [
    { name: 'gOff', kind: 'u32' },
    { name: 'idx', kind: 'u32' },
  ],
  // Exponent bits all set is Inf or NaN; a bit test, because WGSL compilers may fold x != x away.
  `let b = bitcast<u32>(g[gOff + i]);
  if ((b & 0x7f800000u) == 0x7f800000u) { atomicMin(&flag[0], idx); }`,
);

const NONE = 0xffffffff;

function checkInto(flag: Tensor, t: Tensor, idx: number): void {
  const d = denseInput(t);
  try {
    launch(CHECK, [d.t.buffer, flag.buffer], { gOff: d.t.offset, idx }, t.size);
  } finally {
    if (d.owned) d.t.dispose();
  }
}

/**
 * Index of the first tensor holding a NaN or Inf, or -1: every tensor folds into one atomic minimum on the
 * GPU, then a single 4-byte readback.
 */
export async function firstNonFinite(tensors: readonly Tensor[]): Promise<number> {
  const flag = full([1], NONE, 'u32');
  try {
    tensors.forEach((t, idx) => checkInto(flag, t, idx));
    const v = (await flag.data())[0];
    return v === NONE ? -1 : v;
  } finally {
    flag.dispose();
  }
}

/** Where a watched value first went non-finite: the step and the index of the tensor within that step. */
export interface NonFiniteAt {
  step: number;
  index: number;
}

/**
 * Watches values over many steps without waiting on the GPU: each `watch` folds a check into one atomic
 * minimum of (step, index), and `take()` reads it back (4 bytes) only when the caller wants to know, e.g. at
 * log steps and before a checkpoint is written. Up to 64 tensors a step.
 */
export class NonFiniteWatch {
  private flag: Tensor | null = null;

  watch(step: number, index: number, t: Tensor): void {
    if (!(index >= 0 && index < 64)) throw new Error(`NonFiniteWatch: index ${index} outside 0..63`);
    if (!(step >= 0 && step < 0x3ffffff)) throw new Error(`NonFiniteWatch: step ${step} outside the range it can encode`);
    // Kept out of any scope() the caller runs in: the flag outlives the step.
    this.flag ??= keep(full([1], NONE, 'u32'));
    checkInto(this.flag, t, step * 64 + index);
  }

  /** The first non-finite value seen since the last take, or null; resets the watch. */
  async take(): Promise<NonFiniteAt | null> {
    if (!this.flag) return null;
    const flag = this.flag;
    this.flag = null;
    try {
      const v = (await flag.data())[0];
      return v === NONE ? null : { step: Math.floor(v / 64), index: v % 64 };
    } finally {
      flag.dispose();
    }
  }

  dispose(): void {
    this.flag?.dispose();
    this.flag = null;
  }
}
