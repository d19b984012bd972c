// The safetensors layout, platform-free: u64 little-endian header length, JSON header, then the data section.
// Validation follows the reference implementation: known dtypes, sizes that match shapes, and offsets that
// tile the data section exactly (in order, no gaps, no overlap, nothing past the end).
import { formatShape, numel } from '../shape.ts';
import { dtypeProblem, type FileDType, ITEM_BYTES } from './dtypes.ts';
import { IoError } from './errors.ts';

export interface SafetensorsEntry {
  name: string;
  dtype: FileDType;
  shape: number[];
  /** Offsets into the data section, which starts at `dataStart` in the file. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  dataStart: number;
  /** Entries in file order. */
  entries: SafetensorsEntry[];
  metadata: Record<string, string>;
}

/** Header length limit of the reference implementation: a larger value means a corrupt or foreign file. */
const MAX_HEADER_BYTES = 100_000_000;
const METADATA_KEY = '__metadata__';

/** Reads and checks the header length from the first 8 bytes. */
export function parseHeaderLength(first: Uint8Array, fileSize: number, file: string): number {
  if (fileSize < 8) throw new IoError(file, `file is ${fileSize} bytes, too short for the 8-byte safetensors header length`);
  const view = new DataView(first.buffer, first.byteOffset, 8);
  const n = Number(view.getBigUint64(0, true));
  if (n > MAX_HEADER_BYTES) throw new IoError(file, `header length ${n} is implausible (limit ${MAX_HEADER_BYTES}): not a safetensors file, or corrupt`);
  if (8 + n > fileSize) throw new IoError(file, `header length ${n} goes past the end of the file (${fileSize} bytes): truncated`);
  if (n < 2) throw new IoError(file, `header length ${n} is too short for a JSON object`);
  return n;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parses and validates the JSON header against the file size. */
export function parseHeader(json: Uint8Array, fileSize: number, file: string): SafetensorsHeader {
  const dataStart = 8 + json.byteLength;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(json);
  } catch {
    throw new IoError(file, 'header is not valid UTF-8');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new IoError(file, `header is not valid JSON (${(e as Error).message})`);
  }
  if (!isPlainObject(parsed)) throw new IoError(file, 'header is not a JSON object');
  let metadata: Record<string, string> = {};
  const entries: SafetensorsEntry[] = [];
  for (const [name, v] of Object.entries(parsed)) {
    if (name === METADATA_KEY) {
      if (!isPlainObject(v) || !Object.values(v).every((x) => typeof x === 'string')) {
        throw new IoError(file, `${METADATA_KEY} must map strings to strings`);
      }
      metadata = v as Record<string, string>;
      continue;
    }
    const bad = (what: string) => new IoError(file, `tensor '${name}': ${what}`);
    if (!isPlainObject(v)) throw bad('header entry is not an object');
    const problem = dtypeProblem(v.dtype);
    if (problem) throw bad(problem);
    const dtype = v.dtype as FileDType;
    const shape = v.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw bad(`bad shape ${JSON.stringify(shape)}`);
    const offs = v.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0) || offs[0] > offs[1]) {
      throw bad(`bad data_offsets ${JSON.stringify(offs)}`);
    }
    const need = numel(shape) * ITEM_BYTES[dtype];
    if (offs[1] - offs[0] !== need) {
      throw bad(`data_offsets [${offs[0]}, ${offs[1]}] hold ${offs[1] - offs[0]} bytes, but ${dtype} ${formatShape(shape)} needs ${need}`);
    }
    entries.push({ name, dtype, shape: [...shape], begin: offs[0], end: offs[1] });
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  const dataBytes = fileSize - dataStart;
  let pos = 0;
  let prev = '';
  for (const e of entries) {
    if (dataStart + e.end > fileSize) {
      throw new IoError(file, `tensor '${e.name}': data_offsets [${e.begin}, ${e.end}] go past the end of the file (data section has ${dataBytes} bytes): truncated`);
    }
    if (e.begin < pos) throw new IoError(file, `tensor '${e.name}' at [${e.begin}, ${e.end}] overlaps tensor '${prev}' (ends at ${pos})`);
    if (e.begin > pos) throw new IoError(file, `tensor '${e.name}' starts at ${e.begin}, leaving a gap after ${prev ? `'${prev}'` : 'the header'} (ends at ${pos})`);
    pos = e.end;
    prev = e.name;
  }
  if (pos !== dataBytes) throw new IoError(file, `${dataBytes - pos} bytes after the last tensor: corrupt, or not written by a safetensors writer`);
  return { dataStart, entries, metadata };
}

/** The 8-byte length and JSON header for entries laid out in the given order; padded with spaces to 8 bytes. */
export function buildHeader(
  entries: readonly { name: string; dtype: FileDType; shape: readonly number[]; byteLength: number }[],
  metadata: Record<string, string> | undefined,
): { header: Uint8Array; offsets: [number, number][] } {
  const obj: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new Error(`metadata '${k}' must be a string (safetensors metadata maps strings to strings)`);
    }
    obj[METADATA_KEY] = metadata;
  }
  const offsets: [number, number][] = [];
  let pos = 0;
  for (const e of entries) {
    if (e.name === METADATA_KEY) throw new Error(`'${METADATA_KEY}' cannot be a tensor name`);
    offsets.push([pos, pos + e.byteLength]);
    Object.defineProperty(obj, e.name, {
      value: { dtype: e.dtype, shape: e.shape, data_offsets: [pos, pos + e.byteLength] },
      enumerable: true,
    });
    pos += e.byteLength;
  }
  let json = new TextEncoder().encode(JSON.stringify(obj));
  const padded = Math.ceil(json.byteLength / 8) * 8;
  if (padded !== json.byteLength) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const header = new Uint8Array(8 + json.byteLength);
  new DataView(header.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  header.set(json, 8);
  return { header, offsets };
}
