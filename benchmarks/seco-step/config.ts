// The config a seco-step measurement trains with: a CLI preset (SeCo's real settings) on the VOC sample images,
// from a random init, with every loss and the prototype update on from iteration 0, so the measured iteration
// does all the work a late-training iteration does.
import { join } from 'node:path';
import { loadConfig, type SecoConfig } from '@seco/cli/training';
import { SECO_LOSS_TERMS } from '@seco/models';

export const STEP_PRESETS = ['voc', 'coco'] as const;
export type StepPreset = (typeof STEP_PRESETS)[number];

export interface SecoStepOptions {
  /** voc (ViT-B/16, 448 crops, batch 4) or coco (80 classes, batch 8, five CAM scales): the CLI's presets. */
  preset: StepPreset;
  /** The shared data folder holding voc-sample/ and voc-full-labels/ (../shared/data from the repository). */
  dataDir: string;
  /** Crop size and batch size; the preset's when omitted. */
  crop?: number;
  batch?: number;
  /** Timed iterations after the cold one (default 1; 0 runs the cold one only). */
  iterations?: number;
  /** Loader worker threads; the preset's when omitted. */
  workers?: number;
  /** Further `key.path=value` overrides, as `seco train --set` takes them (e.g. a tiny ViT for tests). */
  sets?: readonly string[];
  /** Timed iterations with the encoding thread on a core of its own (benchmarks/pin-host.ts). */
  pinHost?: boolean;
}

/** The `--set` overrides of a measurement, in the order they apply (later ones win). */
export function stepOverrides(o: SecoStepOptions): string[] {
  const voc = join(o.dataDir, 'voc-sample');
  const sets = [
    // coco runs its network and step settings on the VOC images too (the COCO sample has one image); VOC's
    // class indices are valid among COCO's 80.
    'data.dataset=voc',
    'data.mask_root=null',
    `data.root=${join(voc, 'VOC2012')}`,
    `data.train_list=${join(voc, 'lists', 'train.txt')}`,
    `data.val_list=${join(voc, 'lists', 'val.txt')}`,
    `data.labels=${join(o.dataDir, 'voc-full-labels', 'cls_labels_from_seco_npy.json')}`,
    'model.pretrained=null',
    ...SECO_LOSS_TERMS.map((t) => `loss.start.${t}=0`),
    'seco.update_prototype=0',
    'eval.interval=0',
  ];
  if (o.crop !== undefined) sets.push(`train.crop_size=${o.crop}`);
  if (o.batch !== undefined) sets.push(`train.batch_size=${o.batch}`);
  if (o.workers !== undefined) sets.push(`data.workers=${o.workers}`);
  return [...sets, ...(o.sets ?? [])];
}

export function stepConfig(o: SecoStepOptions): SecoConfig {
  if (!(STEP_PRESETS as readonly string[]).includes(o.preset)) throw new Error(`seco-step: preset must be one of ${STEP_PRESETS.join(', ')}, got ${JSON.stringify(o.preset)}`);
  for (const k of ['crop', 'batch', 'iterations', 'workers'] as const) {
    const v = o[k];
    const min = k === 'workers' || k === 'iterations' ? 0 : 1;
    if (v !== undefined && (!Number.isInteger(v) || v < min)) throw new Error(`seco-step: ${k} must be an integer >= ${min}, got ${v}`);
  }
  return loadConfig(o.preset, stepOverrides(o)).config;
}
