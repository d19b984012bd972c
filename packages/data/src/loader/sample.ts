// Loads one sample into its slot of a batch. Runs inside loader workers, and directly in tests.
import { readFile } from 'node:fs/promises';
import type { DecodeImage } from '../codecs/decode.ts';
import { decodeIndexPng } from '../codecs/png.ts';
import type { SampleRef } from '../datasets/types.ts';
import { DataError, withFile } from '../errors.ts';
import type { IndexMap, RgbImage } from '../image.ts';
import { checkMask, labelIdx, labelsFromMask } from '../labels/image-labels.ts';
import { Rng } from '../rng.ts';
import type { AugConfig } from '../transforms/config.ts';
import { normalizeCHW, normalizeInto } from '../transforms/normalize.ts';
import { resizeBilinearTorchCHW } from '../transforms/resample.ts';
import { applyCropMask, secoViews } from '../transforms/seco.ts';

export type LoaderMode = 'train' | 'eval';

/** What a worker needs to know once; plain data. */
export interface SampleSpec {
  mode: LoaderMode;
  aug: AugConfig;
  numClasses: number;
  /** eval: images are resized to evalSize x evalSize (bilinear, aspect ignored, as SeCo's validation). */
  evalSize: number;
  /** eval: masks are kept at full size, top-left in a maskSize[0] x maskSize[1] array padded with 255. */
  maskSize: [number, number];
  /** train: also crop the mask with the same geometry (padding 255). */
  withMask: boolean;
}

/** The arrays of one batch; shared memory, so workers write their slots in place. */
export interface BatchArrays {
  images: Float32Array;
  strong: Float32Array | null;
  global2: Float32Array | null;
  imgBox: Int32Array | null;
  clsLabels: Float32Array;
  labelIdx: Int32Array;
  masks: Uint8Array | null;
  sizes: Int32Array | null;
}

async function readBytes(file: string): Promise<Uint8Array> {
  try {
    return await readFile(file);
  } catch (e) {
    throw new DataError(file, `cannot read: ${(e as NodeJS.ErrnoException).code ?? e}`, { cause: e });
  }
}

export async function loadImage(file: string, decode: DecodeImage): Promise<RgbImage> {
  return decode(await readBytes(file), file);
}

export async function loadMask(file: string, numClasses: number, expect?: RgbImage): Promise<IndexMap> {
  const m = decodeIndexPng(await readBytes(file), file);
  checkMask(m, numClasses, file, expect);
  return { width: m.width, height: m.height, data: m.data };
}

export function allocBatch(spec: SampleSpec, n: number, shared: boolean): BatchArrays {
  const S = spec.mode === 'train' ? spec.aug.cropSize : spec.evalSize;
  const buf = (bytes: number) => (shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes));
  const f32 = (len: number) => new Float32Array(buf(len * 4));
  const i32 = (len: number) => new Int32Array(buf(len * 4));
  const u8 = (len: number) => new Uint8Array(buf(len));
  const img = 3 * S * S;
  const train = spec.mode === 'train';
  const [mh, mw] = spec.maskSize;
  return {
    images: f32(n * img),
    strong: train ? f32(n * img) : null,
    global2: train ? f32(n * img) : null,
    imgBox: train ? i32(n * 4) : null,
    clsLabels: f32(n * spec.numClasses),
    labelIdx: i32(n),
    masks: train ? (spec.withMask ? u8(n * S * S) : null) : u8(n * mh * mw),
    sizes: train ? null : i32(n * 2),
  };
}

/** Decodes, augments and writes sample `ref` into slot `slot`; every error names the file. */
export async function fillSlot(ref: SampleRef, seed: number, spec: SampleSpec, b: BatchArrays, slot: number, decode: DecodeImage): Promise<void> {
  const img = await loadImage(ref.image, decode);
  const needMask = ref.mask !== null && (spec.mode === 'eval' || spec.withMask || ref.labels === null);
  const mask = needMask ? await loadMask(ref.mask!, spec.numClasses, img) : null;
  if (ref.labels === null && !mask) throw new DataError(ref.image, `no labels for ${ref.id} and no mask to derive them from`);
  const labels = ref.labels ?? labelsFromMask(mask!, spec.numClasses, ref.mask!);
  const C = spec.numClasses;
  b.clsLabels.fill(0, slot * C, (slot + 1) * C);
  for (const c of labels) b.clsLabels[slot * C + c] = 1;
  b.labelIdx[slot] = labelIdx(labels);
  try {
    if (spec.mode === 'train') {
      const S = spec.aug.cropSize;
      const n = 3 * S * S;
      const v = secoViews(img, spec.aug, new Rng(seed));
      normalizeInto(v.crop, b.images, slot * n, spec.aug.mean, spec.aug.std);
      normalizeInto(v.strong, b.strong!, slot * n, spec.aug.mean, spec.aug.std);
      normalizeInto(v.global2, b.global2!, slot * n, spec.aug.mean, spec.aug.std);
      b.imgBox!.set(v.imgBox, slot * 4);
      if (spec.withMask) {
        b.masks!.set(mask ? applyCropMask(mask, v.params, S).data : new Uint8Array(S * S).fill(255), slot * S * S);
      }
    } else {
      const S = spec.evalSize;
      const x = resizeBilinearTorchCHW(img, S, S);
      normalizeCHW(x, spec.aug.mean, spec.aug.std);
      b.images.set(x, slot * 3 * S * S);
      const [mh, mw] = spec.maskSize;
      if (img.height > mh || img.width > mw) throw new DataError(ref.image, `image is ${img.width}x${img.height}, larger than the loader's maskSize ${mw}x${mh}`);
      b.sizes!.set([img.height, img.width], slot * 2);
      const out = b.masks!.subarray(slot * mh * mw, (slot + 1) * mh * mw);
      out.fill(255);
      if (mask) for (let y = 0; y < mask.height; y++) out.set(mask.data.subarray(y * mask.width, (y + 1) * mask.width), y * mw);
    }
  } catch (e) {
    throw withFile(ref.image, e);
  }
}
