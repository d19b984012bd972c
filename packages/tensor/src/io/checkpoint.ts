// Training checkpoints: a safetensors file whose __metadata__ carries a format tag chosen by the caller (the engine
// knows no model), the step, RNG state and JSON metadata, written atomically so a crash mid-save leaves the
// previous checkpoint intact.
import { IoError } from './errors.ts';
import type { TensorInput, TensorRecord } from './host.ts';
import { type ReadOptions, readSafetensors, serializeSafetensors, writeSafetensors } from './safetensors.ts';
import type { SourceInput } from './source.ts';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };

export interface CheckpointInput {
  /** The writer's format tag (e.g. a model's `name-checkpoint/1`); a reader accepts only the tag it asks for. */
  format: string;
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

export interface CheckpointReadOptions extends ReadOptions {
  /** The only format tag accepted. */
  format: string;
}

/** The __metadata__ key of the format tag. Not `format`: torch-made safetensors files already use that for "pt". */
export const CHECKPOINT_FORMAT_KEY = 'checkpoint_format';

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
  if (!c.format) throw new Error('checkpoint format tag is empty');
  const md: Record<string, string> = { [CHECKPOINT_FORMAT_KEY]: c.format };
  if (c.step !== undefined) md.step = String(c.step);
  if (c.rng !== undefined) md.rng = toJson('rng', c.rng);
  if (c.meta !== undefined) md.meta = toJson('meta', c.meta);
  return md;
}

function parse(file: string, format: string, md: Record<string, string>, tensors: TensorRecord): Checkpoint {
  if (md[CHECKPOINT_FORMAT_KEY] === undefined) throw new IoError(file, `not a checkpoint: __metadata__ has no ${CHECKPOINT_FORMAT_KEY}`);
  if (md[CHECKPOINT_FORMAT_KEY] !== format) {
    throw new IoError(file, `unsupported checkpoint format ${JSON.stringify(md[CHECKPOINT_FORMAT_KEY])} (this version reads ${format})`);
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

/** Reads a checkpoint of `options.format`; `options.names` reads only those tensors (e.g. the model without optimizer state). */
export async function loadCheckpoint(input: SourceInput, options: CheckpointReadOptions): Promise<Checkpoint> {
  const name = typeof input === 'string' ? input : ((input as { name?: string }).name ?? '<bytes>');
  const { format, ...read } = options;
  const { tensors, metadata } = await readSafetensors(input, read);
  return parse(name, format, metadata, tensors);
}
