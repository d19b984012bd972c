// File element types (safetensors names) and their conversion to and from the engine's 4-byte host arrays.
import type { AnyTypedArray, DType } from '../dtype.ts';
import { f32BitsToBf16Bits, f32BitsToHalfBits, halfBitsToF32Bits } from './half.ts';

export type FileDType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U64' | 'U32' | 'U16' | 'U8' | 'BOOL';

export const ITEM_BYTES: Record<FileDType, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1,
};

/** safetensors dtypes we know but cannot convert; named so the error says "unsupported", not "unknown". */
const KNOWN_UNSUPPORTED = new Set(['F8_E4M3', 'F8_E5M2', 'F8_E8M0', 'F6_E2M3', 'F6_E3M2', 'F4', 'C64']);

export function isFileDType(s: unknown): s is FileDType {
  return typeof s === 'string' && Object.hasOwn(ITEM_BYTES, s);
}

/** Why a dtype string cannot be read, or null when it can. */
export function dtypeProblem(s: unknown): string | null {
  if (isFileDType(s)) return null;
  if (typeof s === 'string' && KNOWN_UNSUPPORTED.has(s)) return `dtype ${s} is not supported`;
  return `unknown dtype ${JSON.stringify(s)}`;
}

/** The engine dtype a file dtype is read into: floats -> f32, signed -> i32, unsigned and bool -> u32. */
export function engineDType(d: FileDType): DType {
  if (d[0] === 'F' || d === 'BF16') return 'f32';
  if (d[0] === 'I') return 'i32';
  return 'u32';
}

/** The file dtype that stores an engine dtype without loss. */
export function fileDTypeOf(d: DType): FileDType {
  return d === 'f32' ? 'F32' : d === 'f16' ? 'F16' : d === 'i32' ? 'I32' : 'U32';
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Decodes `count` little-endian elements into the engine's host array. Takes ownership of `bytes`: 4-byte
 * types are viewed in place (readers hand over fresh buffers); a misaligned start is copied once.
 * Throws a plain Error naming the problem (int64 out of int32 range); callers add the file and tensor name.
 */
export function decodeElements(bytes: Uint8Array, dtype: FileDType, count: number): AnyTypedArray {
  if (!LITTLE_ENDIAN) throw new Error('big-endian hosts are not supported');
  const size = ITEM_BYTES[dtype];
  if (bytes.byteLength < count * size) throw new Error(`${bytes.byteLength} bytes hold fewer than ${count} ${dtype} elements`);
  if (bytes.byteOffset % size !== 0) bytes = bytes.slice(0, count * size);
  const { buffer, byteOffset } = bytes;
  switch (dtype) {
    case 'F32':
      return new Float32Array(buffer, byteOffset, count);
    case 'I32':
      return new Int32Array(buffer, byteOffset, count);
    case 'U32':
      return new Uint32Array(buffer, byteOffset, count);
    case 'F64':
      return Float32Array.from(new Float64Array(buffer, byteOffset, count));
    case 'F16': {
      const src = new Uint16Array(buffer, byteOffset, count);
      const out = new Uint32Array(count);
      for (let i = 0; i < count; i++) out[i] = halfBitsToF32Bits(src[i]);
      return new Float32Array(out.buffer);
    }
    case 'BF16': {
      const src = new Uint16Array(buffer, byteOffset, count);
      const out = new Uint32Array(count);
      for (let i = 0; i < count; i++) out[i] = src[i] << 16;
      return new Float32Array(out.buffer);
    }
    case 'I64':
    case 'U64': {
      // Pairs of 32-bit words: the value fits when the high word is the sign extension of the low one.
      const words = new Int32Array(buffer, byteOffset, count * 2);
      const out = dtype === 'I64' ? new Int32Array(count) : new Uint32Array(count);
      for (let i = 0; i < count; i++) {
        const lo = words[2 * i];
        const hi = words[2 * i + 1];
        const fits = dtype === 'I64' ? hi === lo >> 31 : hi === 0;
        if (!fits) {
          const v = dtype === 'I64' ? BigInt(hi) * 2n ** 32n + BigInt(lo >>> 0) : BigInt(hi >>> 0) * 2n ** 32n + BigInt(lo >>> 0);
          throw new Error(`${dtype} value ${v} at element ${i} does not fit in ${dtype === 'I64' ? 'int32' : 'uint32'}`);
        }
        out[i] = lo;
      }
      return out;
    }
    case 'I16':
      return Int32Array.from(new Int16Array(buffer, byteOffset, count));
    case 'I8':
      return Int32Array.from(new Int8Array(buffer, byteOffset, count));
    case 'U16':
      return Uint32Array.from(new Uint16Array(buffer, byteOffset, count));
    case 'U8':
      return Uint32Array.from(new Uint8Array(buffer, byteOffset, count));
    case 'BOOL':
      return Uint32Array.from(new Uint8Array(buffer, byteOffset, count), (b) => (b ? 1 : 0));
  }
}

/**
 * Encodes host values as little-endian `dtype` elements. Narrowing must be exact except for float rounding
 * (F16/BF16 round to nearest even); an integer that does not fit throws.
 */
export function encodeElements(data: ArrayLike<number>, dtype: FileDType): Uint8Array {
  if (!LITTLE_ENDIAN) throw new Error('big-endian hosts are not supported');
  const n = data.length;
  const out = new Uint8Array(n * ITEM_BYTES[dtype]);
  const buf = out.buffer;
  const checkInt = (lo: number, hi: number) => {
    for (let i = 0; i < n; i++) {
      const v = data[i];
      if (!Number.isInteger(v) || v < lo || v > hi) throw new Error(`value ${v} at element ${i} is not a valid ${dtype}`);
    }
  };
  switch (dtype) {
    case 'F32':
      new Float32Array(buf).set(data);
      break;
    case 'F64':
      new Float64Array(buf).set(data);
      break;
    case 'F16':
    case 'BF16': {
      const bits = data instanceof Float32Array ? new Uint32Array(data.buffer, data.byteOffset, n) : new Uint32Array(Float32Array.from(data).buffer);
      const dst = new Uint16Array(buf);
      const conv = dtype === 'F16' ? f32BitsToHalfBits : f32BitsToBf16Bits;
      for (let i = 0; i < n; i++) dst[i] = conv(bits[i]);
      break;
    }
    case 'I32':
      checkInt(-(2 ** 31), 2 ** 31 - 1);
      new Int32Array(buf).set(data);
      break;
    case 'U32':
      checkInt(0, 2 ** 32 - 1);
      new Uint32Array(buf).set(data);
      break;
    case 'I64':
    case 'U64': {
      checkInt(dtype === 'I64' ? -(2 ** 53) : 0, 2 ** 53);
      const words = new Uint32Array(buf);
      for (let i = 0; i < n; i++) {
        const v = data[i];
        words[2 * i] = v >>> 0;
        words[2 * i + 1] = Math.floor(v / 2 ** 32) >>> 0;
      }
      break;
    }
    case 'I16':
      checkInt(-32768, 32767);
      new Int16Array(buf).set(data);
      break;
    case 'I8':
      checkInt(-128, 127);
      new Int8Array(buf).set(data);
      break;
    case 'U16':
      checkInt(0, 65535);
      new Uint16Array(buf).set(data);
      break;
    case 'U8':
      checkInt(0, 255);
      out.set(data);
      break;
    case 'BOOL':
      checkInt(0, 1);
      out.set(data);
      break;
  }
  return out;
}
