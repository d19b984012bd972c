// safetensors read and write over byte sources: the header first, then one tensor at a time.
import { writeFileAtomic } from '#fs';
import { numel } from '../shape.ts';
import { decodeElements } from './dtypes.ts';
import { IoError } from './errors.ts';
import type { ChunkWriter } from './fs-api.ts';
import { prepareTensors, setEntry, type PreparedTensor, type TensorInput, type TensorRecord } from './host.ts';
import { buildHeader, parseHeader, parseHeaderLength, type SafetensorsHeader } from './safetensors-format.ts';
import { type ByteSource, type SourceInput, withSource } from './source.ts';

export interface SafetensorsFile {
  tensors: TensorRecord;
  metadata: Record<string, string>;
}

export interface ReadOptions {
  /** Read only these tensors (all must exist); the default reads every tensor. */
  names?: readonly string[];
}

export interface WriteOptions {
  /** Stored as `__metadata__`: string keys to string values. */
  metadata?: Record<string, string>;
}

async function headerOf(src: ByteSource): Promise<SafetensorsHeader> {
  const n = parseHeaderLength(await src.read(0, Math.min(8, src.size)), src.size, src.name);
  return parseHeader(await src.read(8, n), src.size, src.name);
}

/** The validated header alone: names, dtypes, shapes, offsets and metadata. */
export function readSafetensorsHeader(input: SourceInput): Promise<SafetensorsHeader> {
  return withSource(input, headerOf);
}

/** Reads and decodes tensors (F16/BF16/F64 to f32, I64 to i32 with a range check); throws before returning anything partial. */
export function readSafetensors(input: SourceInput, options: ReadOptions = {}): Promise<SafetensorsFile> {
  return withSource(input, async (src) => {
    const header = await headerOf(src);
    let entries = header.entries;
    if (options.names) {
      const byName = new Map(entries.map((e) => [e.name, e]));
      const missing = options.names.filter((n) => !byName.has(n));
      if (missing.length) throw new IoError(src.name, `no tensor named ${missing.map((m) => `'${m}'`).join(', ')}`);
      entries = options.names.map((n) => byName.get(n)!);
    }
    const tensors: TensorRecord = {};
    for (const e of entries) {
      const bytes = await src.read(header.dataStart + e.begin, e.end - e.begin);
      let data;
      try {
        data = decodeElements(bytes, e.dtype, numel(e.shape));
      } catch (err) {
        throw new IoError(src.name, `tensor '${e.name}': ${(err as Error).message}`);
      }
      setEntry(tensors, e.name, { dtype: e.dtype, shape: e.shape, data });
    }
    return { tensors, metadata: header.metadata };
  });
}

async function emit(prepared: PreparedTensor[], metadata: Record<string, string> | undefined, write: ChunkWriter): Promise<void> {
  const { header } = buildHeader(prepared, metadata);
  await write(header);
  for (const p of prepared) {
    const bytes = await p.bytes();
    if (bytes.byteLength !== p.byteLength) throw new Error(`tensor '${p.name}': produced ${bytes.byteLength} bytes, expected ${p.byteLength}`);
    await write(bytes);
  }
}

/** The whole file as bytes (for browsers: download or upload it). GPU tensors are read back one at a time. */
export async function serializeSafetensors(tensors: Record<string, TensorInput>, options: WriteOptions = {}): Promise<Uint8Array> {
  const prepared = prepareTensors(tensors);
  const chunks: Uint8Array[] = [];
  await emit(prepared, options.metadata, async (c) => void chunks.push(c));
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let pos = 0;
  for (const c of chunks) {
    out.set(c, pos);
    pos += c.byteLength;
  }
  return out;
}

/**
 * Writes a safetensors file atomically (Node): every input is validated first, then the file is streamed one
 * tensor at a time into a temp file that replaces `path` only when complete and synced.
 */
export async function writeSafetensors(path: string, tensors: Record<string, TensorInput>, options: WriteOptions = {}): Promise<void> {
  let prepared: PreparedTensor[];
  try {
    prepared = prepareTensors(tensors);
    buildHeader(prepared, options.metadata); // validates names and metadata before the file is touched
  } catch (e) {
    throw new IoError(path, (e as Error).message);
  }
  try {
    await writeFileAtomic(path, (write) => emit(prepared, options.metadata, write));
  } catch (e) {
    if (e instanceof IoError) throw e;
    throw new IoError(path, `write failed, previous file left unchanged: ${(e as Error).message}`, { cause: e });
  }
}
