/** Element types the engine stores. Every one is 4 bytes wide, so byte sizes never depend on dtype. */
export type DType = 'f32' | 'i32' | 'u32';

export type TypedArrayFor<D extends DType> = D extends 'f32'
  ? Float32Array
  : D extends 'i32'
    ? Int32Array
    : Uint32Array;

export type AnyTypedArray = Float32Array | Int32Array | Uint32Array;

export const BYTES_PER_ELEMENT = 4;

export function wgslType(dtype: DType): string {
  return dtype;
}

export function typedArrayFor(dtype: DType, length: number): AnyTypedArray {
  if (dtype === 'f32') return new Float32Array(length);
  if (dtype === 'i32') return new Int32Array(length);
  return new Uint32Array(length);
}

export function viewAs(dtype: DType, buffer: ArrayBuffer, byteOffset = 0, length?: number): AnyTypedArray {
  if (dtype === 'f32') return new Float32Array(buffer, byteOffset, length);
  if (dtype === 'i32') return new Int32Array(buffer, byteOffset, length);
  return new Uint32Array(buffer, byteOffset, length);
}

export function dtypeOfArray(a: ArrayLike<number>): DType {
  if (a instanceof Int32Array) return 'i32';
  if (a instanceof Uint32Array || a instanceof Uint8Array || a instanceof Uint16Array) return 'u32';
  return 'f32';
}

/** Binary-op promotion: any float makes f32; mixed integers become i32. */
export function promote(a: DType, b: DType): DType {
  if (a === b) return a;
  if (a === 'f32' || b === 'f32') return 'f32';
  return 'i32';
}

export function isFloat(dtype: DType): boolean {
  return dtype === 'f32';
}
