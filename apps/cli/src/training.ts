// The CLI's training path for other workspaces (benchmarks/): configs as `seco train` reads them, the SeCo
// trainer it runs, and each iteration's schedule. Everything here is what `seco train` itself calls.
export { loadConfig, type LoadedConfig } from './config/load.ts';
export { isPreset, PRESETS, type PresetName } from './config/presets.ts';
export type { SecoConfig } from './config/schema.ts';
export { schedulePoint } from './schedule.ts';
export { createSecoTrainer, type SecoTrainer } from './trainer/seco-trainer.ts';
export { generateSyntheticSet, syntheticPaths } from './commands/demo.ts';
