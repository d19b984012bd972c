import { join } from 'node:path';
import { DataError } from '../errors.ts';
import type { ImageLabels } from '../labels/image-labels.ts';
import { readClsLabelsNpy, readLabelsJson } from '../labels/label-files.ts';
import { indexFolder, readList, requireDir } from './files.ts';
import { type Dataset, defaultWarn, type OnBadSample, type SampleRef, type Warn } from './types.ts';
import { VOC_CLASSES } from './voc-classes.ts';

export { VOC_CLASSES } from './voc-classes.ts';


export type LabelSource = { npy: string } | { json: string } | { map: ImageLabels } | 'from-masks';

export interface VocOptions {
  /** Folder holding JPEGImages/ and SegmentationClassAug/ (SeCo's data_root, e.g. VOCdevkit/VOC2012). */
  root: string;
  /** Split list file (train_aug.txt, train.txt, val.txt, test.txt). */
  list: string;
  /** Image-level labels; 'from-masks' derives them from the masks and warns that SeCo does not. */
  labels: LabelSource;
  /** Whether samples carry masks (false for test or for classification-only training). Default true. */
  masks?: boolean;
  imageDir?: string;
  maskDir?: string;
  numClasses?: number;
  classNames?: readonly string[];
  /** 'skip' drops listed ids whose files are missing (one warning with the count) instead of throwing. */
  onBadSample?: OnBadSample;
  warn?: Warn;
  name?: string;
}

export class FolderDataset implements Dataset {
  readonly name: string;
  readonly numClasses: number;
  readonly classNames: readonly string[];
  readonly ids: readonly string[];
  /** Listed ids dropped at open (onBadSample 'skip'), with the reason. */
  readonly skipped: { id: string; reason: string }[];
  private readonly refs: SampleRef[];

  constructor(name: string, numClasses: number, classNames: readonly string[], refs: SampleRef[], skipped: { id: string; reason: string }[]) {
    this.name = name;
    this.numClasses = numClasses;
    this.classNames = classNames;
    this.refs = refs;
    this.ids = refs.map((r) => r.id);
    this.skipped = skipped;
  }

  sample(index: number): SampleRef {
    const r = this.refs[index];
    if (!r) throw new RangeError(`${this.name}: sample ${index} of ${this.refs.length}`);
    return r;
  }
}

export function loadLabelSource(src: LabelSource, numClasses: number): ImageLabels | null {
  if (src === 'from-masks') return null;
  if ('map' in src) return src.map;
  if ('npy' in src) return readClsLabelsNpy(src.npy, numClasses);
  return readLabelsJson(src.json, numClasses);
}

export interface FolderLayout {
  name: string;
  ids: string[];
  listFile: string;
  imageDir: string;
  maskDir: string | null;
  /** Mask file stem for an id (COCO drops the name prefix). */
  maskStem?: (id: string) => string[];
  labels: LabelSource;
  numClasses: number;
  classNames: readonly string[];
  onBadSample: OnBadSample;
  warn: Warn;
}

/** Resolves every listed id to its files once, up front, so a missing file fails at open and not mid-epoch. */
export function openFolders(l: FolderLayout): FolderDataset {
  requireDir(l.imageDir, 'image');
  if (l.maskDir) requireDir(l.maskDir, 'mask');
  const images = indexFolder(l.imageDir, ['.jpg', '.jpeg', '.png']);
  const masks = l.maskDir ? indexFolder(l.maskDir, ['.png']) : null;
  const labels = loadLabelSource(l.labels, l.numClasses);
  if (!labels) {
    if (!l.maskDir) throw new DataError(l.listFile, 'labels from masks were asked for but masks are disabled');
    l.warn(`${l.name}: image-level labels are derived from the masks (a fallback: SeCo trains on cls_labels_onehot.npy, which can list classes a mask lacks)`);
  }
  const labelFile = typeof l.labels === 'object' && !('map' in l.labels) ? ('npy' in l.labels ? l.labels.npy : l.labels.json) : l.listFile;
  const refs: SampleRef[] = [];
  const skipped: { id: string; reason: string }[] = [];
  const bad = (id: string, file: string, reason: string) => {
    if (l.onBadSample === 'error') throw new DataError(file, reason);
    skipped.push({ id, reason: `${file}: ${reason}` });
  };
  for (const id of l.ids) {
    const img = images.get(id);
    if (!img) {
      bad(id, join(l.imageDir, `${id}.jpg`), `image of ${id} (listed in ${l.listFile}) not found`);
      continue;
    }
    let mask: string | null = null;
    if (masks && l.maskDir) {
      const stem = (l.maskStem?.(id) ?? [id]).find((s) => masks.has(s));
      if (!stem) {
        bad(id, join(l.maskDir, `${(l.maskStem?.(id) ?? [id])[0]}.png`), `mask of ${id} (listed in ${l.listFile}) not found`);
        continue;
      }
      mask = join(l.maskDir, masks.get(stem)!);
    }
    let lab: number[] | null = null;
    if (labels) {
      const v = labels.get(id);
      if (!v) {
        bad(id, labelFile, `no image-level labels for ${id} (listed in ${l.listFile})`);
        continue;
      }
      lab = v;
    }
    refs.push({ id, image: join(l.imageDir, img), mask, labels: lab });
  }
  if (skipped.length) {
    l.warn(`${l.name}: skipped ${skipped.length} of ${l.ids.length} listed ids with missing files or labels, e.g. ${skipped[0].reason}`);
  }
  if (!refs.length) throw new DataError(l.listFile, 'no usable samples');
  return new FolderDataset(l.name, l.numClasses, l.classNames, refs, skipped);
}

/** PASCAL VOC 2012 + SBD (SegmentationClassAug), SeCo's layout. */
export function openVoc(o: VocOptions): FolderDataset {
  requireDir(o.root, 'dataset root');
  const numClasses = o.numClasses ?? 20;
  return openFolders({
    name: o.name ?? `voc:${o.list}`,
    ids: readList(o.list),
    listFile: o.list,
    imageDir: join(o.root, o.imageDir ?? 'JPEGImages'),
    maskDir: o.masks === false ? null : join(o.root, o.maskDir ?? 'SegmentationClassAug'),
    labels: o.labels,
    numClasses,
    classNames: o.classNames ?? (numClasses === 20 ? VOC_CLASSES : Array.from({ length: numClasses }, (_, i) => `class${i + 1}`)),
    onBadSample: o.onBadSample ?? 'error',
    warn: o.warn ?? defaultWarn,
  });
}
