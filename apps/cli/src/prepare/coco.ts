// seco prepare coco: COCO 2014 images, masks and labels made from the instance annotations by @seco/data's
// converter, and SeCo's lists, in the layout of the coco preset:
//   ROOT/coco/JPEGImages/{train2014,val2014}  ROOT/coco/SegmentationClass/{train2014,val2014}
//   ROOT/coco/{train,val,val_part}.txt  ROOT/coco/cls_labels.json  ROOT/coco/annotations/instances_*2014.json
import { readFileSync } from 'node:fs';
import { copyFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { convertCocoToVoc, type ImageLabels, openCoco } from '@seco/data';
import { startBar } from './byte-progress.ts';
import type { PrepareContext } from './context.ts';
import { extractZip } from './extract.ts';
import type { FileKey } from './known-files.ts';
import { obtain } from './sources.ts';
import { inPlace, stageInto } from './staging.ts';
import { formatCounts, type SplitCount } from './voc.ts';

const LISTS = { cocoTrainList: 'train', cocoValList: 'val', cocoValPartList: 'val_part' } as const;
const FILES: FileKey[] = ['cocoTrain', 'cocoVal', 'cocoAnnotations', ...(Object.keys(LISTS) as FileKey[])];
const SPLIT_OF = { train: 'train', val: 'val', val_part: 'val' } as const;

const readIds = (file: string) => readFileSync(file, 'utf8').split(/\r?\n/).map((l) => l.trim()).filter(Boolean);

/** Opens each list with the reader training uses: every id resolved to its image, mask and labels. */
export async function verifyCoco(root: string): Promise<SplitCount[]> {
  const dir = join(root, 'coco');
  const out: SplitCount[] = [];
  for (const [list, split] of Object.entries(SPLIT_OF)) {
    const file = join(dir, `${list}.txt`);
    const ds = openCoco({ imageRoot: join(dir, 'JPEGImages'), maskRoot: join(dir, 'SegmentationClass'), split, list: file, labels: { json: join(dir, 'cls_labels.json') }, masks: true });
    if (ds.ids.length === 0) throw new Error(`${file} lists no image`);
    out.push({ split: list, ids: ds.ids.length, images: ds.ids.length, masks: ds.ids.length });
  }
  return out;
}

/** Only each zip's images and the instance annotations are extracted. */
const under = (folder: string) => (p: string) => (p.startsWith(`${folder}/`) && p.endsWith('.jpg') ? p : null);
const instances = (p: string) => (/^annotations\/instances_(train|val)2014\.json$/.test(p) ? p : null);

export async function prepareCoco(ctx: PrepareContext): Promise<SplitCount[]> {
  const { root, io } = ctx;
  const found = await inPlace(root, ['coco'], verifyCoco);
  if (found !== 'absent') {
    io.stdout.write(`COCO 2014 is already in place under ${root}; nothing to do.\n${formatCounts(found)}\n`);
    return found;
  }
  const files = await obtain(FILES, { table: ctx.table, from: ctx.from, downloads: join(root, 'downloads'), io, command: 'seco prepare coco' });
  const counts = await stageInto(root, 'coco', ['coco'], async (tmp) => {
    const dir = join(tmp, 'coco');
    await extractZip(files.cocoTrain, join(dir, 'JPEGImages'), io, under('train2014'));
    await extractZip(files.cocoVal, join(dir, 'JPEGImages'), io, under('val2014'));
    await extractZip(files.cocoAnnotations, dir, io, instances);
    for (const [key, list] of Object.entries(LISTS)) await copyFile(files[key], join(dir, `${list}.txt`));
    const labels: ImageLabels = new Map();
    for (const split of ['train', 'val'] as const) {
      const annotations = join(dir, 'annotations', `instances_${split}2014.json`);
      const only = readIds(join(dir, `${split}.txt`));
      const bar = startBar(io, `masks ${split}2014`, only.length, 0, 'items');
      try {
        const got = convertCocoToVoc({ annotations, outDir: join(dir, 'SegmentationClass', `${split}2014`), only, onImage: (n) => bar.update(n) });
        for (const [id, l] of got) labels.set(id, l);
      } finally {
        bar.stop();
      }
    }
    await writeFile(join(dir, 'cls_labels.json'), JSON.stringify(Object.fromEntries(labels)));
    return verifyCoco(tmp);
  });
  io.stdout.write(`COCO 2014 prepared under ${root}:\n${formatCounts(counts)}\n`);
  return counts;
}
