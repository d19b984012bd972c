// The one cache of the CLI: pretrained weights from `seco prepare pretrained` (and how model.pretrained names
// them), and the per-adapter warm-start records of `seco train`. SECO_CACHE, else the platform's user cache
// (~/.cache/seco, ~/Library/Caches/seco, %LOCALAPPDATA%\seco\Cache).
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import envPaths from 'env-paths';

export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.SECO_CACHE || envPaths('seco', { suffix: '' }).cache;
}

/**
 * model.pretrained as given: a path that exists, else a bare file name looked up in the cache. A bare name that
 * is in neither place is an error saying how to get it.
 */
export function resolvePretrained(value: string, env: NodeJS.ProcessEnv = process.env): string {
  if (existsSync(value) || basename(value) !== value) return value;
  const cached = join(cacheDir(env), value);
  if (existsSync(cached)) return cached;
  throw new Error(`model.pretrained ${value}: not a file here nor in the cache ${cacheDir(env)}; run \`seco prepare pretrained\` (or give a path)`);
}
