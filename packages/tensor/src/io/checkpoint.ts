// Training checkpoints: a safetensors file whose __metadata__ carries the step, RNG state and JSON metadata,
// written atomically so a crash mid-save leaves the previous checkpoint intact.
import { IoError } from './errors.ts';
import type { TensorInput, TensorRecord } from './host.ts';
import { type ReadOptions, readSafetensors, serializeSafetensors, writeSafetensors } from './safetensors.ts';
import type { SourceInput } from './source.ts';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };

export interface CheckpointInput {
  /** Model and optimizer tensors by name (e.g. `model.blocks.0.attn.qkv.weight`, `optim.exp_avg.0`). */
  tensors: Record<string, TensorInput>;
  /** Schedule step (optimizer steps taken). */
  step?: number;
  /** RNG state, e.g. `{ engine: defaultGenerator.state(), data: loaderRng.state() }`. */
  rng?: JsonValue;
  /** Anything else: config, epoch, best score... */
  meta?: JsonValue;
}

export interface Checkpoint {
  tensors: TensorRecord;
  step: number | null;
  rng: JsonValue | null;
  meta: JsonValue | null;
}

export const CHECKPOINT_FORMAT = 'seco-checkpoint/1';
/** Not `format`: torch-made safetensors files already use that for "pt". */
const FORMAT_KEY = 'checkpoint_format';

function toJson(field: string, v: unknown): string {
  let s: string | undefined;
  try {
    s = JSON.stringify(v);
  } catch (e) {
    throw new Error(`checkpoint ${field} is not JSON-serialisable: ${(e as Error).message}`);
  }
  if (s === undefined) throw new Error(`checkpoint ${field} is not JSON-serialisable`);
  return s;
}

function metadataOf(c: CheckpointInput): Record<string, string> {
  if (c.step !== undefined && !(Number.isSafeInteger(c.step) && c.step >= 0)) throw new Error(`checkpoint step must be a non-negative integer, got ${c.step}`);
  const md: Record<string, string> = { [FORMAT_KEY]: CHECKPOINT_FORMAT };
  if (c.step !== undefined) md.step = String(c.step);
  if (c.rng !== undefined) md.rng = toJson('rng', c.rng);
  if (c.meta !== undefined) md.meta = toJson('meta', c.meta);
  return md;
}

function parse(file: string, md: Record<string, string>, tensors: TensorRecord): Checkpoint {
  if (md[FORMAT_KEY] === undefined) throw new IoError(file, `not a checkpoint: __metadata__ has no ${FORMAT_KEY}`);
  if (md[FORMAT_KEY] !== CHECKPOINT_FORMAT) {
    throw new IoError(file, `unsupported checkpoint format ${JSON.stringify(md[FORMAT_KEY])} (this version reads ${CHECKPOINT_FORMAT})`);
  }
  const json = (field: string): JsonValue | null => {
    if (md[field] === undefined) return null;
    try {
      return JSON.parse(md[field]) as JsonValue;
    } catch (e) {
      throw new IoError(file, `checkpoint ${field} is not valid JSON: ${(e as Error).message}`);
    }
  };
  let step: number | null = null;
  if (md.step !== undefined) {
    step = Number(md.step);
    if (!/^\d+$/.test(md.step) || !Number.isSafeInteger(step)) throw new IoError(file, `checkpoint step ${JSON.stringify(md.step)} is not a non-negative integer`);
  }
  return { tensors, step, rng: json('rng'), meta: json('meta') };
}

/** Saves atomically (Node): temp file in the same directory, fsync, rename, fsync the directory. */
export async function saveCheckpoint(path: string, checkpoint: CheckpointInput): Promise<void> {
  let metadata: Record<string, string>;
  try {
    metadata = metadataOf(checkpoint);
  } catch (e) {
    throw new IoError(path, (e as Error).message);
  }
  await writeSafetensors(path, checkpoint.tensors, { metadata });
}

/** The checkpoint as bytes (browsers: download it; loadCheckpoint reads it back). */
export async function serializeCheckpoint(checkpoint: CheckpointInput): Promise<Uint8Array> {
  return serializeSafetensors(checkpoint.tensors, { metadata: metadataOf(checkpoint) });
}

/** Reads a checkpoint; `options.names` reads only those tensors (e.g. the model without optimizer state). */
export async function loadCheckpoint(input: SourceInput, options: ReadOptions = {}): Promise<Checkpoint> {
  const name = typeof input === 'string' ? input : ((input as { name?: string }).name ?? '<bytes>');
  const { tensors, metadata } = await readSafetensors(input, options);
  return parse(name, metadata, tensors);
}
