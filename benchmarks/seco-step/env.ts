// seco-step options from the environment (run.ts passes suites no arguments):
//   SECO_STEP_PRESET=voc|coco  SECO_STEP_CROP=448  SECO_STEP_BATCH=4  SECO_STEP_ITERS=1  SECO_STEP_WORKERS=2
//   SECO_STEP_SET='model.depth=2 model.embed_dim=64'  (whitespace-separated config overrides)
//   SECO_PIN_HOST=1  (timed iterations with the encoding thread on a core of its own: pin-host.ts)
import { pinHostRequested } from '../pin-host.ts';
import { sharedDataDir } from '../shared-data.ts';
import { type SecoStepOptions, STEP_PRESETS, type StepPreset } from './config.ts';

function int(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const v = env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new Error(`${name}=${v}: expected an integer`);
  return n;
}

export function stepOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): SecoStepOptions {
  const preset = env.SECO_STEP_PRESET || 'voc';
  if (!(STEP_PRESETS as readonly string[]).includes(preset)) throw new Error(`SECO_STEP_PRESET=${preset}: expected one of ${STEP_PRESETS.join(', ')}`);
  return {
    preset: preset as StepPreset,
    dataDir: sharedDataDir(),
    crop: int(env, 'SECO_STEP_CROP'),
    batch: int(env, 'SECO_STEP_BATCH'),
    iterations: int(env, 'SECO_STEP_ITERS'),
    workers: int(env, 'SECO_STEP_WORKERS'),
    sets: (env.SECO_STEP_SET ?? '').split(/\s+/).filter(Boolean),
    pinHost: pinHostRequested(env),
  };
}
