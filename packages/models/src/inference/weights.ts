// Network weights from a file, a URL, bytes or a browser File: a `seco train` checkpoint (tensors under
// `model.`, its config in meta.config), a bare state_dict as safetensors, or a PyTorch .pth (a zip archive).
import { assertFiniteWeights } from './finite-weights.ts';
import { stateDictIn } from './state-dict-in.ts';
import { METHODS, methodOfCheckpointFormat } from '../methods.ts';
import { CHECKPOINT_FORMAT_KEY, loadCheckpoint, readPth, readSafetensors, readSafetensorsHeader, type SourceInput, type TensorRecord, withSource } from '@seco/tensor';

export interface NetworkWeights {
  /** The network's state_dict (SecoNetwork names). */
  tensors: TensorRecord;
  /** `meta.config` of a seco checkpoint; null for a bare state_dict. */
  config: unknown;
  kind: 'checkpoint' | 'safetensors' | 'pth';
  /** The method a checkpoint's tag names (its network is that method's); absent for bare state_dicts. */
  method?: string;
  /** How the weights were found (a .pth's `module.` prefix stripped, a training checkpoint's model key). */
  notes: string[];
}

/** A name for messages: the path, URL or File name. */
export function sourceName(input: SourceInput, fallback = '<bytes>'): string {
  if (typeof input === 'string') return input;
  const n = (input as { name?: unknown }).name;
  return typeof n === 'string' && n !== '' ? n : fallback;
}

/** PyTorch's zip archive (.pth): by the extension for a path or URL (read once), else by the magic bytes. */
async function isZip(input: SourceInput): Promise<boolean> {
  if (typeof input === 'string') return /\.(pth|pt)$/i.test(input);
  const head = await withSource(input, (src) => src.read(0, Math.min(4, src.size)));
  return head.length === 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04;
}

/** The weights of `input`, refused (naming `name` and the tensor) when any float in them is NaN or Infinity. */
export async function readNetworkWeights(input: SourceInput, name = sourceName(input)): Promise<NetworkWeights> {
  const w = await readAnyWeights(input, name);
  assertFiniteWeights(w.tensors, name);
  return w;
}

async function readAnyWeights(input: SourceInput, name: string): Promise<NetworkWeights> {
  if (await isZip(input)) return { ...stateDictIn(await readPth(input), name), config: null, kind: 'pth' };
  const header = await readSafetensorsHeader(input);
  if (header.metadata[CHECKPOINT_FORMAT_KEY] === undefined) {
    return { tensors: (await readSafetensors(input)).tensors, config: null, kind: 'safetensors', notes: [] };
  }
  const format = header.metadata[CHECKPOINT_FORMAT_KEY];
  const method = methodOfCheckpointFormat(format);
  if (!method) {
    const known = Object.values(METHODS).map((m) => m.checkpointFormat).join(', ');
    throw new Error(`${name}: unsupported checkpoint format ${JSON.stringify(format)} (this version reads ${known})`);
  }
  // Only the network: a training checkpoint also holds optimizer moments (twice the model again).
  const names = header.entries.map((e) => e.name).filter((n) => n.startsWith('model.'));
  if (names.length === 0) throw new Error(`${name}: a seco checkpoint without model.* tensors`);
  const ck = await loadCheckpoint(input, { names, format });
  const tensors: TensorRecord = {};
  for (const [k, v] of Object.entries(ck.tensors)) tensors[k.slice('model.'.length)] = v;
  const meta = ck.meta as { config?: unknown } | null;
  const config = meta && typeof meta === 'object' && 'config' in meta ? meta.config : null;
  return { tensors, config, kind: 'checkpoint', method: method.name, notes: [] };
}
