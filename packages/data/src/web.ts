// The browser-safe part of @seco/data (no node:* imports): decoding through the platform, palette PNG masks
// (png-indices.ts, fflate), the seeded RNG and SeCo's transforms. Datasets, PNG writing (node:zlib) and the worker
// loader are Node-only and live in the main entry.
export { DataError } from './errors.ts';
export type { IndexMap, RgbImage } from './image.ts';
export { deriveSeed, Rng, type RngState } from './rng.ts';
export { checkMask, type ImageLabels, labelIdx, labelsFromMask, multiHot, validateMask } from './labels/image-labels.ts';
export { VOC_CLASSES } from './datasets/voc-classes.ts';
export { COCO_CLASSES } from './datasets/coco-classes.ts';
export type { DecodeImage } from './codecs/decode.ts';
export { decodeImage } from '#decode';
export { decodeIndexPng, type IndexPng } from './codecs/png-indices.ts';
export { vocPalette } from './codecs/palette.ts';
export { augConfig, type AugConfig, defaultAugConfig, IMAGENET_MEAN, IMAGENET_STD, type ViewConfig } from './transforms/config.ts';
export { resizeBilinearTorchCHW, resizePil } from './transforms/resample.ts';
export { normalizeCHW, normalizeInto } from './transforms/normalize.ts';
export { adjustHue, colorJitter, gaussianBlur, grayscale, hflip, solarize } from './transforms/photometric.ts';
export { applyCrop, applyCropMask, drawCrop, drawResizedCrop, type CropParams, type ImgBox, secoViews, type SecoViews } from './transforms/seco.ts';
