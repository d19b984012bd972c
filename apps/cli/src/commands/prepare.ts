// seco prepare voc | coco | pretrained: real data and weights in one command (src/prepare/).
import type { FlagValues } from '../args.ts';
import { UsageError } from '../args.ts';
import { cacheDir } from '../cache-dir.ts';
import type { PrepareContext } from '../prepare/context.ts';
import { prepareCoco } from '../prepare/coco.ts';
import { type FileTable, KNOWN_FILES } from '../prepare/known-files.ts';
import { preparePretrained } from '../prepare/pretrained.ts';
import { prepareVoc } from '../prepare/voc.ts';
import type { CommandIO } from './io.ts';

export const PREPARE_TARGETS = ['voc', 'coco', 'pretrained'] as const;
export type PrepareTarget = (typeof PREPARE_TARGETS)[number];

/** Runs one target; `table` is the real one unless a test injects its own. */
export async function prepare(target: PrepareTarget, o: { root?: string; from?: string; io: CommandIO; table?: FileTable }): Promise<void> {
  const ctx: PrepareContext = {
    root: o.root ?? (target === 'pretrained' ? cacheDir() : 'data'),
    from: o.from,
    table: o.table ?? KNOWN_FILES,
    io: o.io,
  };
  if (target === 'voc') await prepareVoc(ctx);
  else if (target === 'coco') await prepareCoco(ctx);
  else await preparePretrained(ctx);
}

export async function prepareCommand(flags: FlagValues, positionals: string[], io: CommandIO): Promise<number> {
  const [target, ...extra] = positionals;
  if (!(PREPARE_TARGETS as readonly string[]).includes(target) || extra.length > 0) {
    throw new UsageError(`prepare: give one of ${PREPARE_TARGETS.join(', ')}, got '${positionals.join(' ')}' (see seco prepare --help)`);
  }
  await prepare(target as PrepareTarget, { root: flags.root as string | undefined, from: flags.from as string | undefined, io });
  return 0;
}
