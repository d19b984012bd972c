// Host memory outside V8's heap for MPI to read and write in place: koffi.alloc'd, seen from JS through a typed
// array over koffi.view (no copy), handed to MPI as its address. Freed explicitly.
import koffi from 'koffi';

export type NativeKind = 'f32' | 'f64' | 'i32' | 'u8';

const C_TYPE: Record<NativeKind, string> = { f32: 'float', f64: 'double', i32: 'int', u8: 'uint8_t' };
type ArrayOf<K extends NativeKind> = K extends 'f32' ? Float32Array : K extends 'f64' ? Float64Array : K extends 'i32' ? Int32Array : Uint8Array;

/** What a collective needs: where the elements are, their kind and how many. */
export interface MpiBuffer {
  readonly kind: NativeKind;
  readonly address: bigint;
  readonly length: number;
}

export class NativeBuffer<K extends NativeKind = NativeKind> implements MpiBuffer {
  readonly address: bigint;
  readonly array: ArrayOf<K>;
  private freed = false;

  constructor(
    readonly kind: K,
    readonly length: number,
  ) {
    if (!Number.isInteger(length) || length < 1) throw new RangeError(`NativeBuffer: length must be a positive integer, got ${length}`);
    this.address = koffi.alloc(C_TYPE[kind], length) as bigint;
    const bytes = koffi.view(this.address, length * (kind === 'f64' ? 8 : kind === 'u8' ? 1 : 4));
    const Ctor = { f32: Float32Array, f64: Float64Array, i32: Int32Array, u8: Uint8Array }[kind];
    this.array = new Ctor(bytes) as ArrayOf<K>;
  }

  /** The first `n` elements, for a collective over fewer than the buffer holds. */
  prefix(n: number): MpiBuffer {
    if (!(Number.isInteger(n) && n >= 1 && n <= this.length)) throw new RangeError(`NativeBuffer.prefix: ${n} outside 1..${this.length}`);
    return { kind: this.kind, address: this.address, length: n };
  }

  free(): void {
    if (this.freed) return;
    this.freed = true;
    koffi.free(this.address);
  }
}
