import { readPthStateDict, readSafetensors, type SourceInput, type TensorRecord } from '@seco/tensor';

/**
 * A state dict from a .safetensors file or a torch.save'd .pth (zip; a nested {model/state_dict: …} is
 * unwrapped). Paths pick by extension, bytes by the zip magic. `prefix` keeps only keys under it, stripped
 * (e.g. 'encoder.' for the backbone of a SeCo checkpoint).
 */
export async function readStateDict(source: SourceInput, prefix = ''): Promise<TensorRecord> {
  const all = isPth(source) ? await readPthStateDict(source) : (await readSafetensors(source)).tensors;
  if (!prefix) return all;
  const out: TensorRecord = {};
  for (const [k, v] of Object.entries(all)) if (k.startsWith(prefix)) out[k.slice(prefix.length)] = v;
  if (Object.keys(out).length === 0) {
    const some = Object.keys(all).slice(0, 5).join(', ');
    throw new Error(`no weights under the prefix '${prefix}' (the file has ${some}${Object.keys(all).length > 5 ? ', …' : ''})`);
  }
  return out;
}

function isPth(source: SourceInput): boolean {
  if (typeof source === 'string') return /\.(pth|pt|bin|ckpt|tar)$/i.test(source);
  const bytes = source instanceof ArrayBuffer ? new Uint8Array(source, 0, Math.min(4, source.byteLength)) : source instanceof Uint8Array ? source : null;
  // Zip local-file magic: torch.save's format since 1.6.
  return bytes !== null && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
}
