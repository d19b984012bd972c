// A tiny typed schema: each field describes what it accepts and checks a value, so the config type is derived
// from the schema (one place) and every error names the key path, the value and what is allowed.

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export interface Field<T> {
  /** What is allowed, for error messages and --help. */
  readonly describe: string;
  check(value: unknown, path: string): T;
}

export type Infer<F> = F extends Field<infer T> ? T : never;

function show(v: unknown): string {
  // JSON shows Infinity and NaN as null; a value like 1e400 parses to Infinity and must be named as such.
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function bad(path: string, value: unknown, allowed: string): never {
  throw new ConfigError(`config ${path}: got ${show(value)}, expected ${allowed}`);
}

export interface NumOptions {
  int?: boolean;
  min?: number;
  max?: number;
  /** Exclusive lower bound. */
  gt?: number;
}

export function num(o: NumOptions = {}): Field<number> {
  const parts = [o.int ? 'an integer' : 'a number'];
  if (o.gt !== undefined) parts.push(`> ${o.gt}`);
  if (o.min !== undefined) parts.push(`>= ${o.min}`);
  if (o.max !== undefined) parts.push(`<= ${o.max}`);
  const describe = parts.join(' ');
  return {
    describe,
    check(v, path) {
      if (typeof v === 'number' && !Number.isFinite(v)) bad(path, v, `a finite number (${describe})`);
      if (typeof v !== 'number') bad(path, v, describe);
      if (o.int && !Number.isSafeInteger(v)) bad(path, v, describe);
      if (o.gt !== undefined && !(v > o.gt)) bad(path, v, describe);
      if (o.min !== undefined && v < o.min) bad(path, v, describe);
      if (o.max !== undefined && v > o.max) bad(path, v, describe);
      return v;
    },
  };
}

export function str(): Field<string> {
  return {
    describe: 'a string',
    check: (v, path) => (typeof v === 'string' ? v : bad(path, v, 'a string')),
  };
}

export function oneOf<const T extends readonly string[]>(values: T): Field<T[number]> {
  const describe = `one of ${values.map((x) => JSON.stringify(x)).join(', ')}`;
  return {
    describe,
    check: (v, path) => ((values as readonly unknown[]).includes(v) ? (v as T[number]) : bad(path, v, describe)),
  };
}

export function bool(): Field<boolean> {
  return { describe: 'true or false', check: (v, path) => (typeof v === 'boolean' ? v : bad(path, v, 'true or false')) };
}

export function nullable<T>(f: Field<T>): Field<T | null> {
  return { describe: `${f.describe} or null`, check: (v, path) => (v === null ? null : f.check(v, path)) };
}

export function list<T>(item: Field<T>, o: { minLength?: number; length?: number } = {}): Field<T[]> {
  const size = o.length !== undefined ? ` of exactly ${o.length}` : o.minLength ? ` of at least ${o.minLength}` : '';
  const describe = `a list${size} of ${item.describe}`;
  return {
    describe,
    check(v, path) {
      if (!Array.isArray(v)) bad(path, v, describe);
      if (o.length !== undefined && v.length !== o.length) bad(path, v, describe);
      if (o.minLength !== undefined && v.length < o.minLength) bad(path, v, describe);
      return v.map((x, i) => item.check(x, `${path}[${i}]`));
    },
  };
}

/** An object whose keys are free (checked elsewhere, e.g. against a method's loss terms) and whose values are `item`. */
export function record<T>(item: Field<T>): Field<Record<string, T>> {
  const describe = `an object of ${item.describe}`;
  return {
    describe,
    check(v, path) {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) bad(path, v, describe);
      const out: Record<string, T> = {};
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = item.check(x, join(path, k));
      return out;
    },
  };
}

type Shape = Record<string, Field<unknown>>;
export type ObjectOf<S extends Shape> = { [K in keyof S]: Infer<S[K]> };

export interface ObjectField<S extends Shape> extends Field<ObjectOf<S>> {
  readonly shape: S;
}

/** Every key is required and no other key is allowed: a typo must not silently fall back to a default. */
export function obj<S extends Shape>(shape: S): ObjectField<S> {
  const keys = Object.keys(shape);
  return {
    shape,
    describe: `an object with keys ${keys.join(', ')}`,
    check(v, path) {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) bad(path, v, 'an object');
      const rec = v as Record<string, unknown>;
      for (const k of Object.keys(rec)) {
        if (!Object.hasOwn(shape, k)) {
          throw new ConfigError(`config ${join(path, k)}: unknown key${suggest(k, keys)} (allowed here: ${keys.join(', ')})`);
        }
      }
      const out: Record<string, unknown> = {};
      for (const k of keys) {
        if (!Object.hasOwn(rec, k)) throw new ConfigError(`config ${join(path, k)}: missing (${shape[k].describe})`);
        out[k] = shape[k].check(rec[k], join(path, k));
      }
      return out as ObjectOf<S>;
    },
  };
}

export function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

/** "did you mean" for a key one or two edits away from a known one. */
function suggest(key: string, known: string[]): string {
  let best = '';
  let bestD = 3;
  for (const k of known) {
    const d = editDistance(key, k);
    if (d < bestD) [best, bestD] = [k, d];
  }
  return best ? ` (did you mean "${best}"?)` : '';
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length];
}
