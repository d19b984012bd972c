// Tensors on the host: what readers return, what writers accept, and the upload of a whole record to the GPU.
import type { AnyTypedArray } from '../dtype.ts';
import { tensor } from '../ops/creation.ts';
import { formatShape, numel } from '../shape.ts';
import { Tensor } from '../tensor.ts';
import { type FileDType, dtypeProblem, encodeElements, engineDType, fileDTypeOf, ITEM_BYTES } from './dtypes.ts';

/**
 * A decoded tensor: `dtype` is the file's element type, `data` the values in row-major order as the engine's
 * host array (floats as Float32Array, signed integers as Int32Array, unsigned and bool as Uint32Array).
 */
export interface HostTensor {
  dtype: FileDType;
  shape: number[];
  data: AnyTypedArray;
}

export type TensorRecord = Record<string, HostTensor>;

/** Sets an own property even for names like "__proto__", which plain assignment would turn into a prototype. */
export function setEntry<T>(obj: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/** A host array to write: `dtype` picks the file type (default from the array type, F32 for plain arrays), `shape` defaults to 1-D. */
export interface HostArrayInput {
  data: ArrayLike<number>;
  shape?: readonly number[];
  dtype?: FileDType;
}

/** Typed arrays written as-is: the element type picks the file dtype (Float64Array -> F64, Uint8Array -> U8, ...). */
export type HostTypedArray = Float32Array | Float64Array | Int32Array | Int16Array | Int8Array | Uint32Array | Uint16Array | Uint8Array;

export type TensorInput = Tensor | HostArrayInput | HostTypedArray;

export function isHostTensor(v: unknown): v is HostTensor {
  const t = v as HostTensor;
  return typeof v === 'object' && v !== null && Array.isArray(t.shape) && ArrayBuffer.isView(t.data) && typeof t.dtype === 'string';
}

/** A validated write input: everything but the bytes, which come one tensor at a time. */
export interface PreparedTensor {
  name: string;
  dtype: FileDType;
  shape: number[];
  byteLength: number;
  bytes(): Promise<Uint8Array>;
}

function defaultFileDType(data: ArrayLike<number>): FileDType {
  if (data instanceof Float64Array) return 'F64';
  if (data instanceof Int32Array) return 'I32';
  if (data instanceof Int16Array) return 'I16';
  if (data instanceof Int8Array) return 'I8';
  if (data instanceof Uint32Array) return 'U32';
  if (data instanceof Uint16Array) return 'U16';
  if (data instanceof Uint8Array) return 'U8';
  return 'F32';
}

/** Checks one input (shape against length, dtype) without reading GPU data. Throws Error naming the tensor. */
export function prepareTensor(name: string, input: TensorInput): PreparedTensor {
  if (input instanceof Tensor) {
    const t = input;
    t.storage; // throws a named error for a disposed tensor before anything is written
    const dtype = fileDTypeOf(t.dtype);
    return { name, dtype, shape: [...t.shape], byteLength: t.size * ITEM_BYTES[dtype], bytes: async () => encodeElements(await t.data(), dtype) };
  }
  const h: HostArrayInput = ArrayBuffer.isView(input) ? { data: input as HostTypedArray } : (input as HostArrayInput);
  if (!h || typeof h !== 'object' || h.data === undefined || typeof h.data.length !== 'number') {
    throw new Error(`tensor '${name}': expected a Tensor, a typed array or {data, shape, dtype}`);
  }
  const shape = h.shape ? [...h.shape] : [h.data.length];
  if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new Error(`tensor '${name}': bad shape ${formatShape(shape)}`);
  if (numel(shape) !== h.data.length) throw new Error(`tensor '${name}': ${h.data.length} values do not fill shape ${formatShape(shape)}`);
  const dtype = h.dtype ?? defaultFileDType(h.data);
  const problem = dtypeProblem(dtype);
  if (problem) throw new Error(`tensor '${name}': ${problem}`);
  // Encode now: it is cheap on the host and an out-of-range value fails before the file is touched.
  let encoded: Uint8Array;
  try {
    encoded = encodeElements(h.data, dtype);
  } catch (e) {
    throw new Error(`tensor '${name}': ${(e as Error).message}`);
  }
  return { name, dtype, shape, byteLength: encoded.byteLength, bytes: async () => encoded };
}

export function prepareTensors(tensors: Record<string, TensorInput>): PreparedTensor[] {
  return Object.entries(tensors).map(([name, t]) => prepareTensor(name, t));
}

/** Host copies of tensors (reads GPU tensors back), e.g. to keep a snapshot. */
export async function toHost(tensors: Record<string, Tensor>): Promise<TensorRecord> {
  const out: TensorRecord = {};
  for (const [name, t] of Object.entries(tensors)) setEntry(out, name, { dtype: fileDTypeOf(t.dtype), shape: [...t.shape], data: await t.data() });
  return out;
}

/**
 * Uploads a fully decoded record to GPU tensors (f32 / i32 / u32). All-or-nothing: if one upload fails, the
 * tensors made so far are disposed before the error is rethrown.
 */
export function uploadTensors(record: TensorRecord): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  try {
    for (const [name, h] of Object.entries(record)) setEntry(out, name, tensor(h.data, h.shape, engineDType(h.dtype)));
  } catch (e) {
    for (const t of Object.values(out)) t.dispose();
    throw e;
  }
  return out;
}
