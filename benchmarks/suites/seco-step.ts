// One SeCo training iteration of a CLI preset (voc by default) through the CLI's trainer, with the engine's
// host and queue counters. Options in the environment: see seco-step/env.ts.
import { measureSecoStep } from '../seco-step/measure.ts';
import { stepOptionsFromEnv } from '../seco-step/env.ts';
import { secoStepRows } from '../seco-step/rows.ts';
import type { BenchCase } from '../types.ts';

export default async function run(): Promise<BenchCase[]> {
  return secoStepRows(await measureSecoStep(stepOptionsFromEnv()));
}
