// Where the model weights are inside an unpickled .pth: a bare state_dict (SeCo's released model_iter_N.pth,
// DDP keys `module.*`), or a training checkpoint dict holding one; an optimizer state alone is refused.
import { isHostTensor, type TensorRecord } from '@seco/tensor';

const isTensorDict = (v: unknown): v is TensorRecord =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length > 0 && Object.values(v).every(isHostTensor);

/** Keys under which training scripts keep the model in a checkpoint dict, in the order they are tried. */
const MODEL_KEYS = ['model', 'state_dict', 'model_state_dict', 'network', 'net', 'module'];

export interface FoundStateDict {
  tensors: TensorRecord;
  /** What was done to find the weights, for the user. */
  notes: string[];
}

/**
 * The network's state_dict in `value` (the unpickled file `name`). A leading `module.` on every key (torch.save of
 * a DistributedDataParallel model) is stripped, as SeCo's infer_seg_voc.py does.
 */
export function stateDictIn(value: unknown, name: string): FoundStateDict {
  const notes: string[] = [];
  let sd: TensorRecord;
  if (isTensorDict(value)) sd = value;
  else {
    const obj = typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
    const keys = obj ? Object.keys(obj) : [];
    if (obj && 'state' in obj && 'param_groups' in obj) {
      throw new Error(`${name}: holds an optimizer state_dict (state, param_groups), not model weights`);
    }
    const at = MODEL_KEYS.find((k) => obj && isTensorDict(obj[k]));
    if (!at) {
      throw new Error(`${name}: no model state_dict inside (top-level ${obj ? `keys: ${keys.join(', ') || 'none'}` : `value: ${Array.isArray(value) ? 'a list' : typeof value}`}; looked for a dict of tensors or one under ${MODEL_KEYS.join(' / ')})`);
    }
    sd = obj![at] as TensorRecord;
    notes.push(`${name}: a training checkpoint (keys: ${keys.join(', ')}); the model weights are its '${at}'`);
  }
  const names = Object.keys(sd);
  if (names.every((k) => k.startsWith('module.'))) {
    const out: TensorRecord = {};
    for (const k of names) out[k.slice('module.'.length)] = sd[k];
    notes.push(`${name}: 'module.' stripped from ${names.length} keys (a DistributedDataParallel state_dict)`);
    sd = out;
  }
  return { tensors: sd, notes };
}
