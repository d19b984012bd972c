// Small archives in the real files' layout, built from the real samples in ../shared/data, and a table that
// points at them on a local server with their own digests (the real table stays real).
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { zipSync } from 'fflate';
import sharp from 'sharp';
import * as tar from 'tar';
import { type FileKey, type FileTable, KNOWN_FILES } from '../../src/prepare/known-files.ts';

export const sharedData = process.env.SECO_SHARED_DATA ?? fileURLToPath(new URL('../../../../../shared/data/', import.meta.url));
export const fixtures = process.env.SECO_FIXTURES ?? fileURLToPath(new URL('../../../../../shared/fixtures/', import.meta.url));

const sample = join(sharedData, 'voc-sample');
const lines = (file: string) => readFileSync(file, 'utf8').split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
export const sampleTrain = () => lines(join(sample, 'lists', 'train.txt'));
export const sampleVal = () => lines(join(sample, 'lists', 'val.txt'));
const text = (ids: string[]) => new TextEncoder().encode(`${ids.join('\n')}\n`);

/** VOCtrainval_11-May-2012.tar as the real one is laid out (VOCdevkit/VOC2012/...), with the 51 sample images. */
async function vocTar(work: string): Promise<Uint8Array> {
  const voc = join(work, 'VOCdevkit', 'VOC2012');
  mkdirSync(join(voc, 'JPEGImages'), { recursive: true });
  mkdirSync(join(voc, 'ImageSets', 'Segmentation'), { recursive: true });
  for (const f of readdirSync(join(sample, 'VOC2012', 'JPEGImages'))) writeFileSync(join(voc, 'JPEGImages', f), readFileSync(join(sample, 'VOC2012', 'JPEGImages', f)));
  writeFileSync(join(voc, 'ImageSets', 'Segmentation', 'train.txt'), text(sampleTrain()));
  writeFileSync(join(voc, 'ImageSets', 'Segmentation', 'val.txt'), text(sampleVal()));
  const file = join(work, 'voc.tar');
  await tar.c({ file, cwd: work, portable: true }, ['VOCdevkit']);
  return readFileSync(file);
}

/** SegmentationClassAug.zip as released: SegmentationClassAug/<id>.png, plus macOS metadata the real zip carries. */
function segClassAugZip(): Uint8Array {
  const dir = join(sample, 'VOC2012', 'SegmentationClassAug');
  const entries: Record<string, Uint8Array> = {};
  for (const f of readdirSync(dir)) entries[`SegmentationClassAug/${f}`] = readFileSync(join(dir, f));
  entries['__MACOSX/SegmentationClassAug/._2007_000032.png'] = new Uint8Array([0, 5, 22, 7]);
  return zipSync(entries, { level: 0 });
}

export interface TestFiles {
  bytes: Partial<Record<FileKey, Uint8Array>>;
  /** The real table's entries with URLs on `base` and the test files' own sha256. */
  table(base: string): FileTable;
}

function tableFor(bytes: Partial<Record<FileKey, Uint8Array>>, base: string): FileTable {
  const t = { ...KNOWN_FILES } as FileTable;
  for (const [k, b] of Object.entries(bytes) as [FileKey, Uint8Array][]) {
    const e = KNOWN_FILES[k];
    t[k] = { name: e.name, urls: [`${base}/${e.name}`], sha256: createHash('sha256').update(b).digest('hex'), source: 'test file' };
  }
  return t;
}

export async function vocFiles(work: string): Promise<TestFiles> {
  const full = join(sharedData, 'voc-full-labels');
  const bytes: TestFiles['bytes'] = {
    vocTrainval: await vocTar(work),
    segClassAug: segClassAugZip(),
    // The sample's train ids are VOC train ids, hence in train_aug too; test ids have no images in trainval.
    vocTrainAug: text(sampleTrain()),
    vocTrain: text(sampleTrain()),
    vocVal: readFileSync(join(sample, 'lists', 'val.txt')),
    vocTest: text(lines(join(full, 'lists', 'test.txt')).slice(0, 5)),
    // SeCo's real labels file: its digest is the real table's.
    vocLabels: readFileSync(join(full, 'cls_labels_onehot.npy')),
  };
  return { bytes, table: (base) => tableFor(bytes, base) };
}

export const COCO_ID = 'COCO_val2014_000000039769';
export const cocoAnnotations = (): Record<string, unknown>[] => JSON.parse(readFileSync(join(sharedData, 'coco-sample', 'coco_annotations_000000039769.json'), 'utf8'));

/**
 * COCO's three zips in their real layout. The sample has one real image (val2014, the two cats); the train zip
 * holds the same photo under a train name, so both splits go through extraction and conversion.
 */
export async function cocoFiles(): Promise<TestFiles> {
  const jpg = new Uint8Array(await sharp(join(sharedData, 'coco-sample', `${COCO_ID}.png`)).jpeg().toBuffer());
  const anns = cocoAnnotations();
  const trainId = 'COCO_train2014_000000039769';
  const instances = (name: string) =>
    new TextEncoder().encode(JSON.stringify({ images: [{ id: 39769, file_name: `${name}.jpg`, width: 640, height: 480 }], annotations: anns, categories: [] }));
  const bytes: TestFiles['bytes'] = {
    cocoTrain: zipSync({ [`train2014/${trainId}.jpg`]: jpg }),
    cocoVal: zipSync({ [`val2014/${COCO_ID}.jpg`]: jpg }),
    cocoAnnotations: zipSync({
      'annotations/instances_train2014.json': instances(trainId),
      'annotations/instances_val2014.json': instances(COCO_ID),
      'annotations/captions_val2014.json': new TextEncoder().encode('{}'),
    }),
    cocoTrainList: text([trainId]),
    cocoValList: text([COCO_ID]),
    cocoValPartList: text([COCO_ID]),
  };
  return { bytes, table: (base) => tableFor(bytes, base) };
}
