import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { encodeIndexPng } from '../codecs/png.ts';
import { DataError } from '../errors.ts';
import type { ImageLabels } from '../labels/image-labels.ts';
import { COCO_CLASSES } from './coco-classes.ts';
import { annotationsToMask, type CocoAnnotation, labelsFromAnnotations } from './coco-masks.ts';
import { isDir, readList } from './files.ts';
import { type Dataset, defaultWarn, type OnBadSample, type Warn } from './types.ts';
import { type LabelSource, openFolders } from './voc.ts';

interface InstancesFile {
  images: { id: number; file_name: string; width: number; height: number }[];
  annotations: CocoAnnotation[];
}

function readInstances(file: string): InstancesFile {
  let j: unknown;
  try {
    j = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new DataError(file, `unreadable COCO annotations: ${e instanceof Error ? e.message : e}`, { cause: e });
  }
  const o = j as Partial<InstancesFile>;
  if (!Array.isArray(o.images) || !Array.isArray(o.annotations)) throw new DataError(file, 'expected "images" and "annotations" arrays (an instances_*.json)');
  return o as InstancesFile;
}

/** Image name as SeCo lists it ("COCO_val2014_000000039769") from file_name. */
function stem(fileName: string): string {
  return basename(fileName, extname(fileName));
}

/** Labels of every image in an instances_*.json, keyed by image name. */
export function cocoLabelsFromInstances(file: string): ImageLabels {
  const inst = readInstances(file);
  const byImage = groupByImage(inst.annotations);
  return new Map(inst.images.map((im) => [stem(im.file_name), labelsFromAnnotations(byImage.get(im.id) ?? [])]));
}

function groupByImage(anns: CocoAnnotation[]): Map<number, CocoAnnotation[]> {
  const m = new Map<number, CocoAnnotation[]>();
  for (const a of anns) {
    let l = m.get(a.image_id);
    if (!l) m.set(a.image_id, (l = []));
    l.push(a);
  }
  return m;
}

export interface ConvertOptions {
  /** instances_train2014.json or instances_val2014.json (or a plain array of annotations with `images`). */
  annotations: string;
  /** Output folder for <12-digit id>.png masks, the names SeCo's code reads. */
  outDir: string;
  /** Also write image-level labels as JSON here (id -> 0-based classes). */
  labelsJson?: string;
  /** Only these image names. */
  only?: readonly string[];
  /** Called after each mask written (a conversion of COCO train takes a while). */
  onImage?: (done: number, total: number) => void;
}

/** Converts COCO instance annotations to VOC-style palette masks; returns the image-level labels. */
export function convertCocoToVoc(o: ConvertOptions): ImageLabels {
  const inst = readInstances(o.annotations);
  const byImage = groupByImage(inst.annotations);
  const only = o.only ? new Set(o.only) : null;
  mkdirSync(o.outDir, { recursive: true });
  const labels: ImageLabels = new Map();
  const todo = only ? inst.images.filter((im) => only.has(stem(im.file_name))) : inst.images;
  for (const im of todo) {
    const name = stem(im.file_name);
    const anns = byImage.get(im.id) ?? [];
    const mask = annotationsToMask(anns, im.width, im.height, o.annotations);
    writeFileSync(join(o.outDir, `${String(im.id).padStart(12, '0')}.png`), encodeIndexPng(mask));
    labels.set(name, labelsFromAnnotations(anns));
    o.onImage?.(labels.size, todo.length);
  }
  if (o.labelsJson) writeFileSync(o.labelsJson, JSON.stringify(Object.fromEntries(labels)));
  return labels;
}

export interface CocoOptions {
  /** SeCo's img_dir: holds train/ and val/ (code) or train2014/ and val2014/ (README). */
  imageRoot: string;
  /** SeCo's label_dir, same two namings. */
  maskRoot: string;
  split: 'train' | 'val';
  list: string;
  /** { annotations: instances_*.json } derives labels from the annotations; 'from-masks' is the warned fallback. */
  labels: LabelSource | { annotations: string };
  masks?: boolean;
  onBadSample?: OnBadSample;
  warn?: Warn;
}

/** The split folder under root in either naming (train or train2014). */
export function cocoSplitDir(root: string, split: 'train' | 'val'): string {
  for (const name of [split, `${split}2014`]) if (isDir(join(root, name))) return join(root, name);
  throw new DataError(join(root, split), `COCO ${split} folder not found (looked for ${split}/ and ${split}2014/)`);
}

/** COCO 2014 with VOC-style masks. Masks are named by the 12-digit id (SeCo: name[15:] / name[13:]) or the full name. */
export function openCoco(o: CocoOptions): Dataset {
  const imageDir = cocoSplitDir(o.imageRoot, o.split);
  const maskDir = o.masks === false ? null : cocoSplitDir(o.maskRoot, o.split);
  const labels: LabelSource = typeof o.labels === 'object' && 'annotations' in o.labels ? { map: cocoLabelsFromInstances(o.labels.annotations) } : o.labels;
  return openFolders({
    name: `coco:${o.list}`,
    ids: readList(o.list),
    listFile: o.list,
    imageDir,
    maskDir,
    maskStem: (id) => [id.slice(id.lastIndexOf('_') + 1), id],
    labels,
    numClasses: 80,
    classNames: COCO_CLASSES,
    onBadSample: o.onBadSample ?? 'error',
    warn: o.warn ?? defaultWarn,
  });
}
