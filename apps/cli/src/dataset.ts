// Opening the config's dataset and reading one sample at full size for evaluation.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type Dataset, decodeImage, type LabelSource, loadImage, loadMask, openCoco, openVoc, readSyntheticMeta } from '@seco/data';
import type { SecoConfig } from './config/schema.ts';
import type { LabelMap, RgbImage } from './eval/pictures.ts';

function labelSource(file: string | null): LabelSource {
  if (file === null) return 'from-masks';
  if (file.endsWith('.npy')) return { npy: file };
  if (file.endsWith('.json')) return { json: file };
  throw new Error(`config data.labels: ${file} is neither a .npy nor a .json file`);
}

export function openSplit(config: SecoConfig, split: 'train' | 'val', o: { masks: boolean; list?: string }): Dataset {
  const d = config.data;
  const list = o.list ?? (split === 'train' ? d.train_list : d.val_list);
  if (d.dataset === 'coco') {
    return openCoco({ imageRoot: d.root, maskRoot: d.mask_root!, split, list, labels: labelSource(d.labels), masks: o.masks });
  }
  // The synthetic set names its classes (boat, train, ...) in meta.json.
  const classNames = d.dataset === 'synthetic' && existsSync(join(d.root, 'meta.json')) ? readSyntheticMeta(d.root).classes : undefined;
  return openVoc({ root: d.root, list, labels: labelSource(d.labels), masks: o.masks, numClasses: d.num_classes, classNames });
}

/** Background first, then the dataset's foreground names. */
export function classNamesWithBackground(ds: Dataset): string[] {
  return ['background', ...ds.classNames];
}

export interface EvalSample {
  id: string;
  image: RgbImage;
  gt: LabelMap | null;
  /** 0-based foreground classes present (image-level labels), when known. */
  labels: number[] | null;
}

export async function readSample(ds: Dataset, index: number): Promise<EvalSample> {
  const ref = ds.sample(index);
  const image = await loadImage(ref.image, decodeImage);
  const gt = ref.mask ? await loadMask(ref.mask, ds.numClasses, image) : null;
  return { id: ref.id, image, gt, labels: ref.labels };
}
