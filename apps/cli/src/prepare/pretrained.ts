// seco prepare pretrained: timm's ImageNet ViT-B/16 (the encoder SeCo starts from) into the cache folder, checked
// by digest and by its tensor shapes, so that model.pretrained can name it by file name alone.
import { existsSync } from 'node:fs';
import { copyFile, mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { inferConfig, readStateDict, VIT_B16 } from '@seco/models';
import { verifyFile } from './digest.ts';
import type { PrepareContext } from './context.ts';
import { isUrl, obtain } from './sources.ts';

export interface VitShape {
  patchSize: number;
  embedDim: number;
  depth: number;
}

export const VIT_B16_SHAPE: VitShape = { patchSize: VIT_B16.patchSize, embedDim: VIT_B16.embedDim, depth: VIT_B16.depth };

/** The weights read as a timm ViT state dict of the expected patch size, width and depth. */
export async function verifyVit(file: string, want: VitShape): Promise<void> {
  let got: ReturnType<typeof inferConfig>;
  try {
    got = inferConfig(await readStateDict(file));
  } catch (e) {
    throw new Error(`${file}: not readable as ViT weights (${(e as Error).message}); delete it and run again`, { cause: e });
  }
  for (const k of Object.keys(want) as (keyof VitShape)[]) {
    if (got[k] !== want[k]) throw new Error(`${file}: ${k} ${got[k] ?? 'missing'}, expected ${want[k]} (not timm's ViT-B/16 weights); delete it and run again`);
  }
}

export async function preparePretrained(ctx: PrepareContext, want: VitShape = VIT_B16_SHAPE): Promise<string> {
  const { root, io } = ctx;
  const entry = ctx.table.vit;
  const dest = join(root, entry.name);
  if (existsSync(dest)) {
    await verifyFile(dest, entry);
    await verifyVit(dest, want);
    io.stdout.write(`${dest} is already in place and checked; nothing to do.\n`);
    return dest;
  }
  await mkdir(root, { recursive: true });
  // Downloads land in root itself (dest only appears once complete and checked); a --from folder is copied.
  const got = (await obtain(['vit'], { table: ctx.table, from: ctx.from, downloads: join(root, '.partial'), io, command: 'seco prepare pretrained' })).vit;
  await verifyVit(got, want);
  if (ctx.from && !isUrl(ctx.from)) {
    await copyFile(got, `${dest}.part`);
    await rename(`${dest}.part`, dest);
  } else {
    await rename(got, dest);
    await rm(join(root, '.partial'), { recursive: true, force: true });
  }
  io.stdout.write(`${dest}: ViT-B/16 weights checked; the voc and coco presets find them by name (model.pretrained ${entry.name}).\n`);
  return dest;
}
