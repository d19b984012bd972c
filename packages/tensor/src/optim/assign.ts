import { TensorError } from '../errors.ts';
import { formatShape, shapesEqual } from '../shape.ts';
import { assertTensor, type Tensor } from '../tensor.ts';
import { defineKernel, denseInput, launch } from './fused.ts';

const COPY = defineKernel(
  'copy_into',
  [
    { name: 'src', access: 'read', type: 'u32', offset: 'sOff' },
    { name: 'dst', access: 'read_write', type: 'u32', offset: 'dOff' },
  ],
  [
    { name: 'sOff', kind: 'u32' },
    { name: 'dOff', kind: 'u32' },
  ],
  'dst[dOff + i] = src[sOff + i];',
);

// Halves are 2 bytes: the u32 copy above would move two of them per element.
const COPY_HALF = defineKernel(
  'copy_into',
  [
    { name: 'src', access: 'read', type: 'f16', offset: 'sOff' },
    { name: 'dst', access: 'read_write', type: 'f16', offset: 'dOff' },
  ],
  [
    { name: 'sOff', kind: 'u32' },
    { name: 'dOff', kind: 'u32' },
  ],
  'dst[dOff + i] = src[sOff + i];',
);

/**
 * dst ← src in place, bit for bit (dst keeps its storage, so optimizers and views holding it see the new values).
 * No autograd: this is how checkpoints and EMA initialisation write parameters.
 */
export function copyInto(dst: Tensor, src: Tensor): void {
  assertTensor('copyInto', dst, 'dst');
  assertTensor('copyInto', src, 'src');
  if (!shapesEqual(dst.shape, src.shape)) {
    throw new TensorError('copyInto', `shape ${formatShape(src.shape)} does not match the destination ${formatShape(dst.shape)}`);
  }
  if (!dst.isContiguous) throw new TensorError('copyInto', `destination ${formatShape(dst.shape)} must be contiguous`);
  if (src.dtype !== dst.dtype) throw new TensorError('copyInto', `source is ${src.dtype}, destination ${dst.dtype}`);
  if (src.buffer === dst.buffer && src.offset === dst.offset && src.isContiguous) return;
  const s = denseInput(src);
  try {
    if (s.t.buffer === dst.buffer) throw new TensorError('copyInto', 'source and destination overlap in one storage');
    launch(dst.dtype === 'f16' ? COPY_HALF : COPY, [s.t.buffer, dst.buffer], { sOff: s.t.offset, dOff: dst.offset }, dst.size);
  } finally {
    if (s.owned) s.t.dispose();
  }
}
