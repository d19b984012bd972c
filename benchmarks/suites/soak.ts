// Memory over a long run: N demo-size SeCo iterations through the CLI's trainer, GPU buffers and process memory
// sampled every K iterations, each checked for growth over the second half. SECO_SOAK_ITERS / _EVERY / _IMAGES /
// _SET: see soak/config.ts.
import { soakOptionsFromEnv } from '../soak/config.ts';
import { measureSoak } from '../soak/measure.ts';
import { samplesTable, soakRows } from '../soak/rows.ts';
import type { BenchCase } from '../types.ts';

export default async function run(): Promise<BenchCase[]> {
  const report = await measureSoak(soakOptionsFromEnv());
  console.log(`\n### soak samples\n\n${samplesTable(report)}`);
  return soakRows(report);
}
