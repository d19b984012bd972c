// seco prepare voc: VOC 2012 trainval, SBD's augmented masks (SegmentationClassAug, merged into VOC2012/), and
// SeCo's split lists and image-level labels, in the layout of the voc preset:
//   ROOT/VOCdevkit/VOC2012/{JPEGImages,SegmentationClassAug,...}   ROOT/voc/{train_aug,train,val,test}.txt, cls_labels_onehot.npy
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { openVoc, readClsLabelsNpy } from '@seco/data';
import type { PrepareContext } from './context.ts';
import { extractTar, extractZip } from './extract.ts';
import type { FileKey } from './known-files.ts';
import { obtain } from './sources.ts';
import { inPlace, stageInto } from './staging.ts';

const PARTS = ['VOCdevkit', 'voc'] as const;
const LISTS = { vocTrainAug: 'train_aug', vocTrain: 'train', vocVal: 'val', vocTest: 'test' } as const;
const FILES: FileKey[] = ['vocTrainval', 'segClassAug', ...(Object.keys(LISTS) as FileKey[]), 'vocLabels'];

export interface SplitCount {
  split: string;
  ids: number;
  images: number;
  masks: number;
}

const readIds = (file: string) => readFileSync(file, 'utf8').split(/\r?\n/).map((l) => l.trim()).filter(Boolean);

/** Opens each split with the reader training uses (every id resolved to its image, mask and labels). */
export async function verifyVoc(root: string): Promise<SplitCount[]> {
  const voc2012 = join(root, 'VOCdevkit', 'VOC2012');
  // Read once for the three splits (12,031 entries in SeCo's file).
  const labels = { map: readClsLabelsNpy(join(root, 'voc', 'cls_labels_onehot.npy'), 20) };
  const out: SplitCount[] = [];
  for (const split of ['train_aug', 'train', 'val']) {
    const list = join(root, 'voc', `${split}.txt`);
    const n = openVoc({ root: voc2012, list, labels, masks: true, numClasses: 20 }).ids.length;
    if (n === 0) throw new Error(`${list} lists no image`);
    out.push({ split, ids: n, images: n, masks: n });
  }
  // Test images come in VOC2012test.tar from the PASCAL evaluation server; its labels are not public.
  const test = readIds(join(root, 'voc', 'test.txt'));
  const images = test.filter((id) => existsSync(join(voc2012, 'JPEGImages', `${id}.jpg`))).length;
  out.push({ split: 'test', ids: test.length, images, masks: 0 });
  return out;
}

export function formatCounts(counts: readonly SplitCount[]): string {
  return counts.map((c) => `  ${c.split.padEnd(10)} ${String(c.ids).padStart(6)} ids  ${String(c.images).padStart(6)} images  ${String(c.masks).padStart(6)} masks`).join('\n');
}

/** SegmentationClassAug.zip holds SegmentationClassAug/<id>.png (and macOS metadata, skipped). */
const maskEntry = (p: string): string | null => (/^SegmentationClassAug\/[^/]+\.png$/.test(p) && !basename(p).startsWith('._') ? p : null);

export async function prepareVoc(ctx: PrepareContext): Promise<SplitCount[]> {
  const { root, io } = ctx;
  const found = await inPlace(root, PARTS, verifyVoc);
  if (found !== 'absent') {
    io.stdout.write(`VOC 2012 + SBD is already in place under ${root}; nothing to do.\n${formatCounts(found)}\n`);
    return found;
  }
  const files = await obtain(FILES, { table: ctx.table, from: ctx.from, downloads: join(root, 'downloads'), io, command: 'seco prepare voc' });
  const counts = await stageInto(root, 'voc', PARTS, async (tmp) => {
    await extractTar(files.vocTrainval, tmp, io, (p) => p.startsWith('VOCdevkit/VOC2012/'));
    const voc2012 = join(tmp, 'VOCdevkit', 'VOC2012');
    if (!existsSync(join(voc2012, 'JPEGImages'))) throw new Error(`${files.vocTrainval}: no VOCdevkit/VOC2012/JPEGImages inside; is it VOC 2012 trainval?`);
    await extractZip(files.segClassAug, voc2012, io, maskEntry);
    await mkdir(join(tmp, 'voc'));
    for (const [key, split] of Object.entries(LISTS)) await copyFile(files[key], join(tmp, 'voc', `${split}.txt`));
    await copyFile(files.vocLabels, join(tmp, 'voc', 'cls_labels_onehot.npy'));
    return verifyVoc(tmp);
  });
  io.stdout.write(`VOC 2012 + SBD prepared under ${root}:\n${formatCounts(counts)}\n`);
  return counts;
}
