// seco infer: segment image files and write each mask (VOC palette) and its overlay.
import { basename, extname } from 'node:path';
import { decodeImage, loadImage } from '@seco/data';
import { init } from '@seco/tensor';
import type { FlagValues } from '../args.ts';
import { loadConfig } from '../config/load.ts';
import { writeInference } from '../eval/evaluate.ts';
import { loadSegModel } from '../model-bridge.ts';
import type { CommandIO } from './io.ts';

export async function inferCommand(flags: FlagValues, files: string[], io: CommandIO): Promise<number> {
  const { config } = loadConfig(flags.config as string, (flags.set as string[] | undefined) ?? []);
  await init();
  const model = await loadSegModel(config, flags.checkpoint as string, (l) => io.stderr.write(`${l}\n`));
  try {
    for (const f of files) {
      const image = await loadImage(f, decodeImage);
      const { pred } = await model.segment(image);
      const written = await writeInference(flags.out as string, basename(f, extname(f)), image, pred);
      io.stdout.write(`${f} -> ${written.join(', ')}\n`);
    }
  } finally {
    model.dispose();
  }
  return 0;
}
