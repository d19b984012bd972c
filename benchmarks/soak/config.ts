// What a soak run trains: the CLI's demo preset (96-px synthetic images, 4-block ViT, batch 4) on a small
// synthetic set generated in a temp folder, with every loss and switch on from iteration 0 so that every
// iteration does the same work and the memory of one iteration can be compared with that of another.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSyntheticSet, loadConfig, type SecoConfig, syntheticPaths } from '@seco/cli/training';

export interface SoakOptions {
  /** Training iterations (SECO_SOAK_ITERS, default 2,000). */
  iterations: number;
  /** Sample the memory every this many iterations (SECO_SOAK_EVERY, default 25). */
  every: number;
  /** Synthetic images generated for the run (SECO_SOAK_IMAGES, default 200: 40 steps per epoch at batch 4). */
  images: number;
  /** Further `key.path=value` overrides (SECO_SOAK_SET, whitespace-separated), e.g. a smaller network. */
  sets: readonly string[];
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number): number {
  const v = env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name}=${v}: expected an integer >= ${min}`);
  return n;
}

export function soakOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): SoakOptions {
  const iterations = int(env, 'SECO_SOAK_ITERS', 2000, 4);
  const every = int(env, 'SECO_SOAK_EVERY', 25, 1);
  // The second half needs two samples for a slope.
  if (iterations / every < 4) throw new Error(`SECO_SOAK_ITERS=${iterations} with SECO_SOAK_EVERY=${every} gives under 4 samples; sample more often`);
  return { iterations, every, images: int(env, 'SECO_SOAK_IMAGES', 200, 10), sets: (env.SECO_SOAK_SET ?? '').split(/\s+/).filter(Boolean) };
}

/** Generates the synthetic set in a fresh temp folder and returns the config that trains on it. */
export function soakConfig(o: SoakOptions): { config: SecoConfig; dataDir: string } {
  const dataDir = mkdtempSync(join(tmpdir(), 'seco-soak-'));
  const paths = syntheticPaths(dataDir);
  const base = loadConfig('demo', paths).config;
  const syn = base.data.synthetic;
  if (!syn) throw new Error('the demo preset has no data.synthetic to generate a set from');
  generateSyntheticSet(base, syn, o.images);
  const sets = [
    ...paths,
    `train.max_iters=${o.iterations}`,
    ...['cls', 'cls_aux', 'ptc', 'lil', 'lig', 'seg', 'reg'].map((t) => `loss.start.${t}=0`),
    'seco.update_prototype=0',
    'seco.cam2mask=0',
    'eval.interval=0',
    ...o.sets,
  ];
  return { config: loadConfig('demo', sets).config, dataDir };
}
