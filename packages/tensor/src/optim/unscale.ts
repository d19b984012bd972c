import { keep } from '../memory.ts';
import { Tensor } from '../tensor.ts';
import { denseInput } from './fused.ts';
import { defineMulti, launchMulti, type MultiItem } from './multi.ts';

// PyTorch's _amp_foreach_non_finite_check_and_unscale_: the check is on the scaled value, then val * (1/scale).
// The scaler's state is shared by every slot: [scale, found_inf, growth_tracker, skipped] as f32, declared here
// as atomic words so any thread can raise found_inf (to the bits of 1.0) and all read the scale.
const STATE = [{ name: 'state', access: 'read_write', type: 'atomic' }] as const;
const PREAMBLE = `let inv = 1.0 / bitcast<f32>(atomicLoad(&state[0]));`;
const CHECK = `if ((bitcast<u32>(x) & 0x7f800000u) == 0x7f800000u) { atomicMax(&state[1], 0x3f800000u); }`;

const UNSCALE_IN_PLACE = defineMulti(
  'unscale_grads',
  [{ name: 'g', access: 'read_write', offset: 'gOff' }],
  [{ name: 'gOff', kind: 'u32' }],
  `let x = g[gOff + i];
  ${CHECK}
  ${PREAMBLE}
  g[gOff + i] = x * inv;`,
  STATE,
);

// f16 gradients unscale into f32 ones: the true gradient may be below what f16 can hold (that is why the loss
// was scaled), so it is never rounded back to f16.
const UNSCALE_WIDEN = defineMulti(
  'unscale_grads_f16',
  [
    { name: 'g', access: 'read', type: 'f16', offset: 'gOff' },
    { name: 'o', access: 'read_write', offset: 'oOff' },
  ],
  [
    { name: 'gOff', kind: 'u32' },
    { name: 'oOff', kind: 'u32' },
  ],
  `let x = f32(g[gOff + i]);
  ${CHECK}
  ${PREAMBLE}
  o[oOff + i] = x * inv;`,
  STATE,
);

/**
 * Divides the gradients of `params` by the scale in `state` and raises its found-inf on any Inf or NaN, all on
 * the GPU. f32 gradients change in place (a non-contiguous one is first replaced by a dense copy); f16
 * gradients are replaced by f32 ones.
 */
export function unscaleGrads(params: readonly Tensor[], state: Tensor): void {
  const inPlace: MultiItem[] = [];
  const widen: MultiItem[] = [];
  const freeAfter: Tensor[] = [];
  for (const p of params) {
    const g0 = p.grad;
    if (!g0) continue;
    if (g0.dtype === 'f16') {
      const d = denseInput(g0);
      const out = keep(Tensor.empty(g0.shape, 'f32', 'unscale_grads'));
      widen.push({ buffers: [d.t.buffer, out.buffer], values: { gOff: d.t.offset, oOff: out.offset }, n: g0.size });
      freeAfter.push(g0);
      if (d.owned) freeAfter.push(d.t);
      p.grad = out;
      continue;
    }
    const d = denseInput(g0);
    if (d.owned) {
      keep(d.t);
      g0.dispose();
      p.grad = d.t;
    }
    inPlace.push({ buffers: [d.t.buffer], values: { gOff: d.t.offset }, n: g0.size });
  }
  try {
    launchMulti(UNSCALE_IN_PLACE, inPlace, [state.buffer]);
    launchMulti(UNSCALE_WIDEN, widen, [state.buffer]);
  } finally {
    // The f16 gradients are freed only once their reads are queued.
    for (const t of freeAfter) t.dispose();
  }
}
