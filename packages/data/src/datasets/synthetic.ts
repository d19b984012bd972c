// The synthetic co-occurrence dataset, written in the VOC layout so the VOC reader serves it.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { encodeIndexPng } from '../codecs/png.ts';
import { DataError } from '../errors.ts';
import { deriveSeed, Rng } from '../rng.ts';
import { type Canvas, drawClutter, SCENE_CLASSES } from './synthetic-scenes.ts';
import type { Warn } from './types.ts';
import { type FolderDataset, openVoc } from './voc.ts';

export interface SyntheticOptions {
  outDir: string;
  /** Number of images (train + val). */
  count?: number;
  /** Image side in pixels. */
  size?: number;
  /** Foreground classes, 1..6 (boat, train, aeroplane, cow, car, fish in that order). */
  numClasses?: number;
  /** Probability that an image with class c also shows c's context; a number or one per class. */
  cooccurrence?: number | number[];
  /** Probability that an image shows the context of a class it does not contain. */
  contextOnly?: number;
  /** Probability that an image holds two classes instead of one. */
  twoClasses?: number;
  /** Object width as a share of the image side, drawn uniformly from [min, max]. */
  objectSize?: [number, number];
  /** Fraction of images in val.txt. */
  valFraction?: number;
  seed?: number;
}

export interface SyntheticMeta {
  classes: string[];
  contexts: string[];
  cooccurrence: number[];
  contextOnly: number;
  twoClasses: number;
  objectSize: [number, number];
  size: number;
  count: number;
  seed: number;
  /** Measured in the generated set: fraction of images with class c that show c's context. */
  measuredCooccurrence: number[];
}

export function generateSynthetic(o: SyntheticOptions): SyntheticMeta {
  const count = o.count ?? 2000;
  const size = o.size ?? 96;
  const K = o.numClasses ?? 5;
  const seed = o.seed ?? 0;
  if (K < 1 || K > SCENE_CLASSES.length) throw new Error(`numClasses must be 1..${SCENE_CLASSES.length}`);
  const cooc = Array.isArray(o.cooccurrence) ? o.cooccurrence : Array.from({ length: K }, () => (o.cooccurrence as number | undefined) ?? 0.85);
  if (cooc.length !== K) throw new Error(`cooccurrence has ${cooc.length} rates for ${K} classes`);
  const contextOnly = o.contextOnly ?? 0.05;
  const twoClasses = o.twoClasses ?? 0.3;
  const objectSize = o.objectSize ?? [0.3, 0.5];
  if (!(objectSize[0] > 0 && objectSize[0] <= objectSize[1] && objectSize[1] <= 1)) throw new Error(`objectSize [${objectSize.join(', ')}] must satisfy 0 < min <= max <= 1`);
  const classes = SCENE_CLASSES.slice(0, K);
  const imgDir = join(o.outDir, 'JPEGImages');
  const maskDir = join(o.outDir, 'SegmentationClassAug');
  // Where each context band lies (class id + 1 on background pixels): lets an evaluation measure co-occurrence leak.
  const ctxDir = join(o.outDir, 'ContextMasks');
  mkdirSync(ctxDir, { recursive: true });
  mkdirSync(imgDir, { recursive: true });
  mkdirSync(maskDir, { recursive: true });
  const labels: Record<string, number[]> = {};
  const ids: string[] = [];
  const withCls = new Array(K).fill(0), withCtx = new Array(K).fill(0);
  for (let n = 0; n < count; n++) {
    const id = `syn_${String(n).padStart(6, '0')}`;
    const rng = new Rng(deriveSeed(seed, n));
    const c: Canvas = { size, rgb: new Uint8Array(size * size * 3), mask: new Uint8Array(size * size) };
    drawClutter(c, rng);
    const first = rng.int(K);
    const present = [first];
    if (K > 1 && rng.random() < twoClasses) present.push((first + 1 + rng.int(K - 1)) % K);
    // Contexts: each present class's with its rate, plus now and then one of an absent class.
    const contexts = present.filter((k) => rng.random() < cooc[k]);
    if (K > present.length && rng.random() < contextOnly) {
      const absent = [...Array(K).keys()].filter((k) => !present.includes(k));
      contexts.push(absent[rng.int(absent.length)]);
    }
    const top = contexts.filter((k) => classes[k].contextAt === 'top');
    const bottom = contexts.filter((k) => classes[k].contextAt === 'bottom');
    const horizon = Math.round(size * rng.uniform(0.35, 0.6));
    const ctx = new Uint8Array(size * size);
    const markRows = (k: number, y0: number, y1: number) => ctx.fill(k + 1, Math.max(0, y0) * size, Math.min(size, y1) * size);
    top.slice(0, 1).forEach((k) => (classes[k].drawContext(c, 0, horizon, rng), markRows(k, 0, horizon)));
    // Several bottom contexts share the lower part side by side as stacked bands.
    bottom.forEach((k, i) => {
      const y0 = horizon + Math.round(((size - horizon) * i) / bottom.length);
      const y1 = horizon + Math.round(((size - horizon) * (i + 1)) / bottom.length);
      classes[k].drawContext(c, y0, y1, rng);
      markRows(k, y0, y1);
    });
    present.forEach((k, i) => {
      const w = size * rng.uniform(objectSize[0], objectSize[1]), h = w * rng.uniform(0.6, 0.9);
      const slot = present.length === 1 ? rng.uniform(0, size - w) : rng.uniform(i * size * 0.5, i * size * 0.5 + size * 0.5 - w);
      // Objects stand at the horizon: on their band when their context is there.
      const y = classes[k].contextAt === 'top' ? rng.uniform(0, Math.max(1, horizon - h)) : horizon - h * rng.uniform(0.3, 0.8);
      classes[k].drawObject(c, Math.max(0, slot), Math.max(0, Math.min(size - h, y)), w, h, k + 1, rng);
    });
    for (const k of present) {
      withCls[k]++;
      if (contexts.includes(k)) withCtx[k]++;
    }
    // Labels from what was drawn: an object painted over by another would otherwise be claimed but invisible.
    const visible = new Set<number>();
    for (const v of c.mask) if (v > 0) visible.add(v - 1);
    labels[id] = [...visible].sort((a, b) => a - b);
    writeFileSync(join(imgDir, `${id}.png`), PNG.sync.write({ width: size, height: size, data: Buffer.from(c.rgb) } as PNG, { colorType: 2, inputColorType: 2, inputHasAlpha: false }));
    writeFileSync(join(maskDir, `${id}.png`), encodeIndexPng({ width: size, height: size, data: c.mask }));
    for (let i = 0; i < ctx.length; i++) if (c.mask[i] !== 0) ctx[i] = 0; // objects cover their context
    writeFileSync(join(ctxDir, `${id}.png`), encodeIndexPng({ width: size, height: size, data: ctx }));
    ids.push(id);
  }
  const nVal = Math.round(count * (o.valFraction ?? 0.2));
  const train = ids.slice(0, count - nVal), val = ids.slice(count - nVal);
  writeFileSync(join(o.outDir, 'train.txt'), train.join('\n') + '\n');
  writeFileSync(join(o.outDir, 'train_aug.txt'), train.join('\n') + '\n');
  writeFileSync(join(o.outDir, 'val.txt'), val.join('\n') + '\n');
  writeFileSync(join(o.outDir, 'cls_labels.json'), JSON.stringify(labels));
  const meta: SyntheticMeta = {
    classes: classes.map((k) => k.name),
    contexts: classes.map((k) => k.context),
    cooccurrence: cooc,
    contextOnly,
    twoClasses,
    objectSize,
    size,
    count,
    seed,
    measuredCooccurrence: withCls.map((n, k) => (n ? withCtx[k] / n : 0)),
  };
  writeFileSync(join(o.outDir, 'meta.json'), JSON.stringify(meta, null, 2));
  return meta;
}

export function readSyntheticMeta(dir: string): SyntheticMeta {
  const file = join(dir, 'meta.json');
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as SyntheticMeta;
  } catch (e) {
    throw new DataError(file, 'not a synthetic dataset (meta.json missing or unreadable)', { cause: e });
  }
}

/** Opens a generated set through the VOC reader with its JSON labels. */
export function openSynthetic(dir: string, split: 'train' | 'train_aug' | 'val' = 'train', opts: { masks?: boolean; warn?: Warn } = {}): FolderDataset {
  const meta = readSyntheticMeta(dir);
  return openVoc({
    root: dir,
    list: join(dir, `${split}.txt`),
    labels: { json: join(dir, 'cls_labels.json') },
    numClasses: meta.classes.length,
    classNames: meta.classes,
    masks: opts.masks,
    warn: opts.warn,
    name: `synthetic:${split}`,
  });
}
