// Reading a config: a preset name or a JSON file that may `extends` a preset or another file, then
// `--set key.path=value` overrides, then validation of the merged whole.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isPreset, PRESETS } from './presets.ts';
import { checkConsistency, configSchema, type SecoConfig } from './schema.ts';
import { ConfigError } from './validate.ts';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Objects merge key by key; arrays and scalars replace. */
export function deepMerge(base: JsonObject, over: JsonObject): JsonObject {
  const out: JsonObject = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = isObject(v) && isObject(out[k]) ? deepMerge(out[k] as JsonObject, v) : v;
  return out;
}

function readJsonFile(file: string): JsonObject {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`config file ${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`config file ${file}: not valid JSON (${(e as Error).message})`);
  }
  if (!isObject(v)) throw new ConfigError(`config file ${file}: the top level must be an object`);
  return v;
}

/** The unvalidated, fully merged object behind a preset name or a file path. */
function resolveRaw(ref: string, baseDir: string, seen: string[]): JsonObject {
  if (isPreset(ref)) return structuredClone(PRESETS[ref]) as unknown as JsonObject;
  const file = resolve(baseDir, ref);
  if (seen.includes(file)) throw new ConfigError(`config file ${file}: extends itself through ${seen.join(' -> ')}`);
  const raw = readJsonFile(file);
  const { extends: parent, ...rest } = raw;
  if (parent === undefined) return rest;
  if (typeof parent !== 'string') throw new ConfigError(`config file ${file}: extends must be a preset name (${Object.keys(PRESETS).join(', ')}) or a file path, got ${JSON.stringify(parent)}`);
  return deepMerge(resolveRaw(parent, dirname(file), [...seen, file]), rest);
}

/** `train.max_iters=100`, `cam.scales=[1,0.5]`, `model.pretrained=null`: the value is JSON if it parses, else a string. */
export function applyOverride(raw: JsonObject, assignment: string): JsonObject {
  const eq = assignment.indexOf('=');
  if (eq <= 0) throw new ConfigError(`--set ${assignment}: expected key.path=value`);
  const path = assignment.slice(0, eq).split('.');
  const text = assignment.slice(eq + 1);
  let value: Json;
  try {
    value = JSON.parse(text) as Json;
  } catch {
    value = text;
  }
  let patch: Json = value;
  for (let i = path.length - 1; i >= 0; i--) patch = { [path[i]]: patch };
  return deepMerge(raw, patch as JsonObject);
}

export function validateConfig(raw: unknown): SecoConfig {
  const config = configSchema.check(raw, '');
  checkConsistency(config);
  return config;
}

export interface LoadedConfig {
  config: SecoConfig;
  /** The preset name or the file path it came from. */
  source: string;
}

export function loadConfig(ref: string, overrides: readonly string[] = [], cwd = process.cwd()): LoadedConfig {
  let raw = resolveRaw(ref, cwd, []);
  for (const o of overrides) raw = applyOverride(raw, o);
  return { config: validateConfig(raw), source: isPreset(ref) ? ref : resolve(cwd, ref) };
}
