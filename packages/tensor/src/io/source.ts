// Random-access byte sources, so readers can take a header first and then one tensor at a time.
import { openFileSource } from '#fs';
import { IoError } from './errors.ts';

export interface ByteSource {
  /** The file name or URL, for error messages. */
  readonly name: string;
  readonly size: number;
  /** Fresh bytes (a buffer the caller may keep) for [offset, offset + length); throws IoError past the end. */
  read(offset: number, length: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** What the readers accept: a path (Node) or URL (browser), bytes, a Blob/File, or an open source. */
export type SourceInput = string | Uint8Array | ArrayBuffer | Blob | ByteSource;

export function checkRange(name: string, size: number, offset: number, length: number, what = 'read'): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
    throw new IoError(name, `${what} of ${length} bytes at offset ${offset} goes past the end of the file (${size} bytes): truncated or corrupt`);
  }
}

export function bytesSource(data: Uint8Array | ArrayBuffer, name = '<bytes>'): ByteSource {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  return {
    name,
    size: bytes.byteLength,
    async read(offset, length) {
      checkRange(name, bytes.byteLength, offset, length);
      return bytes.slice(offset, offset + length);
    },
    async close() {},
  };
}

/** A Blob or File read slice by slice (browsers never hold the whole file). */
export function blobSource(blob: Blob, name = (blob as File).name ?? '<blob>'): ByteSource {
  return {
    name,
    size: blob.size,
    async read(offset, length) {
      checkRange(name, blob.size, offset, length);
      return new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer());
    },
    async close() {},
  };
}

function isSource(x: unknown): x is ByteSource {
  return typeof x === 'object' && x !== null && typeof (x as ByteSource).read === 'function' && typeof (x as ByteSource).size === 'number';
}

/** Opens `input`, runs `fn`, and closes what it opened (a ByteSource passed in stays open). */
export async function withSource<T>(input: SourceInput, fn: (src: ByteSource) => Promise<T>, name?: string): Promise<T> {
  if (isSource(input)) return fn(input);
  let src: ByteSource;
  if (typeof input === 'string') src = await openFileSource(input);
  else if (input instanceof Uint8Array || input instanceof ArrayBuffer) src = bytesSource(input, name);
  else if (typeof Blob !== 'undefined' && input instanceof Blob) src = blobSource(input, name);
  else throw new TypeError(`cannot read from ${Object.prototype.toString.call(input)}`);
  try {
    return await fn(src);
  } finally {
    await src.close();
  }
}
