/**
 * Element types the engine stores. f32, i32 and u32 are 4 bytes; f16 is 2 bytes (IEEE binary16, needs the
 * adapter's `shader-f16`), stored as halves but always computed and accumulated in f32 inside kernels.
 */
export type DType = 'f32' | 'f16' | 'i32' | 'u32';

/** What data() returns: f16 is widened to Float32Array (raw halves through data({ raw: true })). */
export type TypedArrayFor<D extends DType> = D extends 'f32' | 'f16'
  ? Float32Array
  : D extends 'i32'
    ? Int32Array
    : Uint32Array;

export type AnyTypedArray = Float32Array | Int32Array | Uint32Array;

/** Bytes of one element of the 4-byte dtypes; use bytesPerElement(dtype) where f16 may occur. */
export const BYTES_PER_ELEMENT = 4;

export function bytesPerElement(dtype: DType): number {
  return dtype === 'f16' ? 2 : 4;
}

export function wgslType(dtype: DType): string {
  return dtype;
}

export function typedArrayFor(dtype: DType, length: number): AnyTypedArray {
  if (dtype === 'f32' || dtype === 'f16') return new Float32Array(length);
  if (dtype === 'i32') return new Int32Array(length);
  return new Uint32Array(length);
}

/** A view of 4-byte elements; f16 bytes are not viewable this way (see tensor.data()). */
export function viewAs(dtype: DType, buffer: ArrayBuffer, byteOffset = 0, length?: number): AnyTypedArray {
  if (dtype === 'f32' || dtype === 'f16') return new Float32Array(buffer, byteOffset, length);
  if (dtype === 'i32') return new Int32Array(buffer, byteOffset, length);
  return new Uint32Array(buffer, byteOffset, length);
}

export function dtypeOfArray(a: ArrayLike<number>): DType {
  if (a instanceof Int32Array) return 'i32';
  if (a instanceof Uint32Array || a instanceof Uint8Array || a instanceof Uint16Array) return 'u32';
  return 'f32';
}

/**
 * Binary-op promotion as PyTorch: f16 with f16 (or with an integer) stays f16, f16 with f32 is f32, any f32
 * makes f32, mixed integers become i32.
 */
export function promote(a: DType, b: DType): DType {
  if (a === b) return a;
  if (a === 'f32' || b === 'f32') return 'f32';
  if (a === 'f16' || b === 'f16') return 'f16';
  return 'i32';
}

export function isFloat(dtype: DType): boolean {
  return dtype === 'f32' || dtype === 'f16';
}

/** The type a kernel computes in for values stored as `dtype`: halves are widened to f32. */
export function computeType(dtype: DType): DType {
  return dtype === 'f16' ? 'f32' : dtype;
}
