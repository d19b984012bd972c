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

/**
 * Index of the first tensor holding a NaN or Inf, or -1: every tensor folds into one atomic minimum on the
 * GPU, then a single 4-byte readback.
 */
export async function firstNonFinite(tensors: readonly Tensor[]): Promise<number> {
  const flag = full([1], 0xffffffff, 'u32');
  try {
    tensors.forEach((t, idx) => {
      const d = denseInput(t);
      try {
        launch(CHECK, [d.t.buffer, flag.buffer], { gOff: d.t.offset, idx }, t.size);
      } finally {
        if (d.owned) d.t.dispose();
      }
    });
    const v = (await flag.data())[0];
    return v === 0xffffffff ? -1 : v;
  } finally {
    flag.dispose();
  }
}
