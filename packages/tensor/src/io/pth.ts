// PyTorch .pth files (torch.save zip format): the pickle gives the structure, data/<key> entries the storages.
// Everything is read and decoded before anything is returned, so a bad file never yields half a state dict.
import { formatShape, numel } from '../shape.ts';
import { decodeElements, ITEM_BYTES } from './dtypes.ts';
import { IoError } from './errors.ts';
import { isHostTensor, type TensorRecord } from './host.ts';
import { unpickle } from './pickle/index.ts';
import { type SourceInput, withSource } from './source.ts';
import { type PendingTensor, torchFormat } from './torch-globals.ts';
import { readZipDirectory, readZipEntry } from './zip.ts';

export interface PthOptions {
  /** Check each entry's CRC-32 (default true). */
  verifyCrc?: boolean;
}

/** Copies a strided view's elements out of a storage's bytes (a fresh, aligned buffer), in row-major order. */
function gather(storage: Uint8Array, p: PendingTensor): Uint8Array {
  const size = ITEM_BYTES[p.storage.dtype];
  const { shape } = p.tensor;
  const n = numel(shape);
  const out = new Uint8Array(n * size);
  if (n === 0) return out;
  // Copy in words of up to 4 bytes: an 8-byte element is two words.
  const word = Math.min(size, 4);
  const W = word === 1 ? Uint8Array : word === 2 ? Uint16Array : Uint32Array;
  const per = size / word;
  const from = new W(storage.buffer as ArrayBuffer, storage.byteOffset, Math.floor(storage.byteLength / word));
  const to = new W(out.buffer);
  const rank = shape.length;
  const idx = new Array<number>(rank).fill(0);
  let src = p.offset;
  for (let i = 0; i < n; i++) {
    for (let w = 0; w < per; w++) to[i * per + w] = from[src * per + w];
    // Odometer: advance the last dimension, carrying into earlier ones.
    for (let d = rank - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) {
        src += p.strides[d];
        break;
      }
      src -= (shape[d] - 1) * p.strides[d];
      idx[d] = 0;
    }
  }
  return out;
}

function isContiguousView(p: PendingTensor): boolean {
  let s = 1;
  for (let i = p.tensor.shape.length - 1; i >= 0; i--) {
    if (p.tensor.shape[i] !== 1 && p.strides[i] !== s) return false;
    s *= p.tensor.shape[i];
  }
  return true;
}

function fill(p: PendingTensor, storage: Uint8Array): void {
  const { shape } = p.tensor;
  const n = numel(shape);
  const describe = `tensor ${p.storage.dtype} ${formatShape(shape)} (storage '${p.storage.key}', offset ${p.offset}, strides ${formatShape(p.strides)})`;
  if (n > 0) {
    const last = p.offset + shape.reduce((acc, d, i) => acc + (d - 1) * p.strides[i], 0);
    if (last >= p.storage.numel) throw new Error(`${describe} reaches element ${last} of a ${p.storage.numel}-element storage`);
  }
  const size = ITEM_BYTES[p.storage.dtype];
  const bytes = isContiguousView(p) ? storage.slice(p.offset * size, (p.offset + n) * size) : gather(storage, p);
  try {
    p.tensor.data = decodeElements(bytes, p.storage.dtype, n);
  } catch (e) {
    throw new Error(`${describe}: ${(e as Error).message}`);
  }
}

/**
 * Reads a torch.save file: dicts become objects, lists and tuples arrays, tensors HostTensor (f16/bf16/f64 as
 * f32, int64 as int32 with a range check; views materialised contiguous). Other values stay plain JS values.
 */
export function readPth(input: SourceInput, options: PthOptions = {}): Promise<unknown> {
  return withSource(input, async (src) => {
    const verify = options.verifyCrc ?? true;
    if (src.size >= 2) {
      const head = await src.read(0, 2);
      if (head[0] === 0x80 && head[1] <= 5) {
        throw new IoError(src.name, 'legacy (pre-1.6, non-zip) torch.save format is not supported; re-save it with a current torch');
      }
    }
    const entries = await readZipDirectory(src);
    const pkl = [...entries.values()].filter((e) => /(^|\/)data\.pkl$/.test(e.name)).sort((a, b) => a.name.length - b.name.length)[0];
    if (!pkl) throw new IoError(src.name, 'zip archive has no data.pkl: not a torch.save file');
    const prefix = pkl.name.slice(0, -'data.pkl'.length);
    const order = entries.get(`${prefix}byteorder`);
    if (order) {
      const text = new TextDecoder().decode(await readZipEntry(src, order, verify)).trim();
      if (text !== 'little') throw new IoError(src.name, `byteorder '${text}' is not supported (only little-endian)`);
    }
    const { format, storages, pending } = torchFormat();
    const value = unpickle(await readZipEntry(src, pkl, verify), format, { file: src.name, member: pkl.name });
    const data = new Map<string, Uint8Array>();
    for (const ref of storages.values()) {
      const entry = entries.get(`${prefix}data/${ref.key}`);
      if (!entry) throw new IoError(src.name, `storage '${ref.key}' is missing (no entry ${prefix}data/${ref.key})`);
      const need = ref.numel * ITEM_BYTES[ref.dtype];
      if (entry.size < need) throw new IoError(src.name, `storage '${ref.key}' has ${entry.size} bytes, ${ref.numel} ${ref.dtype} elements need ${need}`);
      data.set(ref.key, await readZipEntry(src, entry, verify));
    }
    for (const p of pending) {
      try {
        fill(p, data.get(p.storage.key)!);
      } catch (e) {
        throw new IoError(src.name, (e as Error).message);
      }
    }
    return value;
  });
}

function isTensorDict(v: unknown): v is TensorRecord {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).length > 0 && Object.values(v).every(isHostTensor);
}

const STATE_DICT_KEYS = ['state_dict', 'model', 'model_state_dict', 'module', 'net', 'params'];

/**
 * The state dict of a .pth file: the top-level value when it is a dict of tensors, else `options.key`, else
 * the first of state_dict / model / model_state_dict / module / net / params that is one.
 */
export async function readPthStateDict(input: SourceInput, options: PthOptions & { key?: string } = {}): Promise<TensorRecord> {
  const name = typeof input === 'string' ? input : ((input as { name?: string }).name ?? '<bytes>');
  const value = await readPth(input, options);
  if (options.key === undefined && isTensorDict(value)) return value;
  const obj = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  if (options.key !== undefined) {
    if (!isTensorDict(obj[options.key])) throw new IoError(name, `'${options.key}' is not a dict of tensors (top-level keys: ${Object.keys(obj).join(', ')})`);
    return obj[options.key] as TensorRecord;
  }
  for (const k of STATE_DICT_KEYS) if (isTensorDict(obj[k])) return obj[k] as TensorRecord;
  throw new IoError(name, `no state dict found (top-level keys: ${Object.keys(obj).join(', ') || 'none'}); pass { key }`);
}
