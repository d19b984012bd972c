// Where f16 tensors are allowed: the adapter check and the ops whose kernels read and write halves.
// Training in f16 goes past this list: AdamW keeps an f32 master per f16 parameter and accepts f16 gradients,
// GradScaler unscales f16 gradients into f32 ones, and ema() reads f16 sources (src/optim, docs/ENGINE.md).
import { TensorError } from './errors.ts';
import { f32BitsToHalfBits, halfBitsToF32Bits } from './io/half.ts';

/** Throws a named TensorError unless the device has `shader-f16` (halves in storage buffers need it). */
export function checkF16Support(op: string, hasShaderF16: boolean): void {
  if (!hasShaderF16) {
    throw new TensorError(op, "f16 tensors need the adapter feature 'shader-f16', which this device lacks; use f32");
  }
}

/**
 * Ops (as named in assertTensor) that accept f16 inputs. Every other op refuses f16 up front with a
 * TensorError naming itself, instead of failing later inside WGSL.
 */
const F16_OPS = new Set([
  // views and copies
  'contiguous', 'reshape', 'permute', 'transpose', 'expand', 'squeeze', 'unsqueeze', 'slice', 'narrow', 'detach',
  'split', 'unbind', 'copy', 'cast', 'clamp', 'where', 'copyInto', 'concat',
  // elementwise
  'exp', 'log', 'sqrt', 'rsqrt', 'abs', 'neg', 'relu', 'sigmoid', 'tanh', 'gelu', 'sin', 'cos', 'reciprocal',
  'square', 'sign', 'floor', 'ceil', 'round', 'isfinite',
  'add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'logicalAnd', 'logicalOr',
  // reductions and products
  'sum', 'mean', 'max', 'min', 'amax', 'argmax', 'argmin', 'matmul', 'linear', 'autotuneMatmul',
  // row kernels (f32 statistics)
  'softmax', 'log_softmax', 'layer_norm',
  // attention (fused: f16 storage, f32 scores and softmax inside) and convolution (the matmul core)
  'attention', 'conv2d', 'autotuneConv2d',
  // resampling (ViT's position-embedding resize) and pooling (the classifiers' global max pool; f32 inside)
  'interpolate', 'adaptive_max_pool2d', 'adaptive_avg_pool2d', 'max_pool2d', 'avg_pool2d',
]);

export function assertF16Op(op: string): void {
  if (!F16_OPS.has(op)) throw new TensorError(op, 'does not support f16 tensors yet; cast(x, \'f32\') first');
}

export function f16Ops(): readonly string[] {
  return [...F16_OPS];
}

/** Numbers -> packed halves (round to nearest even), padded to whole 4-byte words for upload. */
export function packHalves(values: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length + (values.length & 1));
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let i = 0; i < values.length; i++) {
    f[0] = values[i];
    out[i] = f32BitsToHalfBits(u[0]);
  }
  return out;
}

/** Packed halves -> Float32Array (exact: every half is a float). */
export function unpackHalves(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  const u = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) u[i] = halfBitsToF32Bits(bits[i]);
  return out;
}
