// What a checkpoint needs from a training run, without knowing SeCo: named tensors and a JSON blob out, the
// same back in. composeTrainState builds one from the usual parts (modules, optimizers, loose buffers, RNGs).
import { copyInto, type Generator, type JsonValue, type nn, type Optimizer, type Tensor, tensor, type TensorInput, type TensorRecord, uploadTensors } from '@seco/tensor';

export interface TrainState {
  /** Every tensor needed to resume, under stable names; read while saving, so live handles are fine. */
  tensors(): Record<string, TensorInput>;
  /** Everything else that is needed to resume, as JSON (optimizer meta, RNG and loader positions...). */
  meta(): JsonValue;
  /** Restores both, in place. Throws naming what does not fit. */
  load(record: TensorRecord, meta: JsonValue): void | Promise<void>;
}

/** Host-side state (a data loader's position, an epoch counter) kept as JSON beside the tensors. */
export interface JsonPart {
  get(): JsonValue;
  set(value: JsonValue): void;
}

/** What a checkpoint needs of a module: its state dict out and in. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any module's forward signature
export type StatefulModule = Pick<nn.Module<any, any>, 'stateDict' | 'loadStateDict'>;

export interface TrainStateParts {
  /** e.g. { model: network, model_k: momentumEncoder }: saved as `model.<state_dict key>`. */
  modules?: Record<string, StatefulModule>;
  /** e.g. { optim: adamw }: tensors as `optim.state.<i>.<buffer>`, the rest in meta. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any hyper-parameter type
  optimizers?: Record<string, Optimizer<any>>;
  /** Loose tensors restored in place: queue, queue flags, prototypes. */
  buffers?: Record<string, Tensor>;
  /** Engine generators (e.g. `defaultGenerator`): their seed and draw count. */
  generators?: Record<string, Generator>;
  json?: Record<string, JsonPart>;
}

function subRecord(record: TensorRecord, prefix: string): TensorRecord {
  const out: TensorRecord = {};
  for (const [k, v] of Object.entries(record)) if (k.startsWith(prefix)) out[k.slice(prefix.length)] = v;
  return out;
}

function part(meta: JsonValue, key: string, what: string): JsonValue {
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta) || !(what in meta)) throw new Error(`checkpoint meta has no ${what}`);
  const section = (meta as Record<string, JsonValue>)[what];
  if (typeof section !== 'object' || section === null || Array.isArray(section) || !(key in section)) throw new Error(`checkpoint meta has no ${what}.${key}`);
  return (section as Record<string, JsonValue>)[key];
}

export function composeTrainState(p: TrainStateParts): TrainState {
  const modules = Object.entries(p.modules ?? {});
  const optimizers = Object.entries(p.optimizers ?? {});
  const buffers = Object.entries(p.buffers ?? {});
  const generators = Object.entries(p.generators ?? {});
  const json = Object.entries(p.json ?? {});
  return {
    tensors() {
      const out: Record<string, TensorInput> = {};
      for (const [name, m] of modules) for (const [k, t] of Object.entries(m.stateDict())) out[`${name}.${k}`] = t;
      for (const [name, o] of optimizers) {
        const sd = o.stateDict({ copy: false }); // live handles: read during the save, not kept
        for (const [k, t] of Object.entries(sd.tensors)) out[`${name}.${k}`] = t;
      }
      for (const [name, t] of buffers) out[name] = t;
      return out;
    },
    meta() {
      const optim: Record<string, JsonValue> = {};
      for (const [name, o] of optimizers) optim[name] = o.stateDict({ copy: false }).meta as unknown as JsonValue;
      const rng: Record<string, JsonValue> = {};
      for (const [name, g] of generators) rng[name] = g.state();
      const extra: Record<string, JsonValue> = {};
      for (const [name, j] of json) extra[name] = j.get();
      return { optim, rng, json: extra };
    },
    load(record, meta) {
      for (const [name, m] of modules) m.loadStateDict(subRecord(record, `${name}.`));
      for (const [name, o] of optimizers) {
        const uploaded = uploadTensors(subRecord(record, `${name}.`));
        try {
          o.loadStateDict({ tensors: uploaded, meta: part(meta, name, 'optim') as never });
        } finally {
          for (const t of Object.values(uploaded)) t.dispose();
        }
      }
      for (const [name, dst] of buffers) {
        const h = record[name];
        if (!h) throw new Error(`checkpoint has no tensor '${name}'`);
        const src = tensor(h.data, h.shape, dst.dtype);
        try {
          copyInto(dst, src);
        } finally {
          src.dispose();
        }
      }
      for (const [name, g] of generators) g.setState(part(meta, name, 'rng') as { seed: number; draws: number });
      for (const [name, j] of json) j.set(part(meta, name, 'json'));
    },
  };
}
