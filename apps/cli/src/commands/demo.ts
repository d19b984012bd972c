// seco demo: the synthetic co-occurrence set (generated once into OUT/synthetic) and the tiny demo config.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { generateSynthetic } from '@seco/data';
import type { FlagValues } from '../args.ts';
import { loadConfig } from '../config/load.ts';
import { requireModels } from '../model-bridge.ts';
import type { CommandIO } from './io.ts';
import { train } from './train.ts';

export function syntheticPaths(out: string): string[] {
  const dir = join(out, 'synthetic');
  return [
    `data.root=${dir}`,
    `data.train_list=${join(dir, 'train.txt')}`,
    `data.val_list=${join(dir, 'val.txt')}`,
    `data.labels=${join(dir, 'cls_labels.json')}`,
  ];
}

export async function demoCommand(flags: FlagValues, io: CommandIO): Promise<number> {
  const out = flags.out as string;
  // The data paths point into OUT unless the user overrides them explicitly.
  const { config } = loadConfig(flags.config as string, [...syntheticPaths(out), ...((flags.set as string[] | undefined) ?? [])]);
  await requireModels('train');
  if (config.data.dataset === 'synthetic' && !existsSync(join(config.data.root, 'meta.json'))) {
    io.stdout.write(`generating the synthetic co-occurrence set in ${config.data.root}\n`);
    generateSynthetic({ outDir: config.data.root, numClasses: config.data.num_classes, size: config.train.crop_size, seed: config.train.seed });
  }
  return train({ config, out, resume: flags.resume === true }, io);
}
