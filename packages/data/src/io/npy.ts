import { PickledArray, unpickleNumpy } from './numpy-pickle.ts';

export type NumericArray = Float32Array | Float64Array | Uint8Array | Int32Array | Int16Array | Uint16Array;

export interface NpyArray {
  shape: number[];
  data: NumericArray;
}

const CTORS: Record<string, { new (n: number): NumericArray; BYTES_PER_ELEMENT: number }> = {
  f4: Float32Array,
  f8: Float64Array,
  u1: Uint8Array,
  b1: Uint8Array,
  i1: Uint8Array,
  i2: Int16Array,
  u2: Uint16Array,
  i4: Int32Array,
};

/** Decodes raw little- or big-endian numpy bytes of dtype `descr` (e.g. '<f4') into a typed array. */
export function decodeRaw(descr: string, raw: Uint8Array, count: number): NumericArray {
  const kind = descr.slice(1);
  const Ctor = CTORS[kind];
  if (!Ctor) throw new Error(`dtype ${descr} is not supported`);
  const size = Ctor.BYTES_PER_ELEMENT;
  if (raw.length < count * size) throw new Error(`array data is ${raw.length} bytes, ${count * size} expected`);
  const out = new Ctor(count);
  const big = descr[0] === '>' && size > 1;
  const bytes = new Uint8Array(out.buffer);
  for (let i = 0; i < count * size; i += size) {
    for (let b = 0; b < size; b++) bytes[i + b] = raw[i + (big ? size - 1 - b : b)];
  }
  return out;
}

export function pickledToArray(a: PickledArray): NpyArray {
  if (a.fortran && a.shape.length > 1) throw new Error('Fortran-order arrays are not supported');
  const count = a.shape.reduce((x, y) => x * y, 1);
  return { shape: a.shape, data: decodeRaw(a.dtype, a.raw, count) };
}

/**
 * Reads a .npy file: numeric arrays directly, object arrays (pickled payloads) as the unpickled value; `file`
 * names it in a pickle's errors.
 */
export function readNpy(buf: Uint8Array, file?: string): NpyArray | unknown {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (buf.length < 10 || magic.some((m, i) => buf[i] !== m)) throw new Error('not a .npy file (bad magic)');
  const major = buf[6];
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const hlen = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  const hstart = major === 1 ? 10 : 12;
  if (hstart + hlen > buf.length) throw new Error('truncated .npy header');
  const header = new TextDecoder().decode(buf.subarray(hstart, hstart + hlen));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*True/.test(header);
  const shapeStr = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || shapeStr === undefined) throw new Error(`unreadable .npy header: ${header.trim()}`);
  const shape = shapeStr.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const body = buf.subarray(hstart + hlen);
  if (descr === '|O') {
    const v = unpickleNumpy(body, file);
    // np.save of a dict pickles a 0-d object array holding it.
    if (v instanceof PickledArray && v.objects && v.shape.length === 0) return v.objects[0];
    return v;
  }
  if (fortran && shape.length > 1) throw new Error('Fortran-order .npy arrays are not supported');
  const count = shape.reduce((x, y) => x * y, 1);
  return { shape, data: decodeRaw(descr, body, count) };
}
