export { DataError } from './errors.ts';
export type { IndexMap, RgbImage } from './image.ts';
export { deriveSeed, Rng, type RngState } from './rng.ts';
export { readNpy } from './io/npy.ts';
export { unpickle } from './io/pickle.ts';
export {
  type ImageLabels, labelIdx, labelsFromMask, multiHot, readClsLabelsNpy, readLabelsJson, validateMask,
} from './labels/image-labels.ts';
export type { DecodeImage } from './codecs/decode.ts';
export { decodeImage } from '#decode';
export { decodeIndexPng, encodeIndexPng, type IndexPng, vocPalette } from './codecs/png.ts';
export { augConfig, type AugConfig, defaultAugConfig, IMAGENET_MEAN, IMAGENET_STD, type ViewConfig } from './transforms/config.ts';
export { resizeBilinearTorchCHW, resizePil } from './transforms/resample.ts';
export { normalizeCHW, normalizeInto } from './transforms/normalize.ts';
export { adjustHue, colorJitter, gaussianBlur, grayscale, hflip, solarize } from './transforms/photometric.ts';
export { applyCrop, applyCropMask, drawCrop, drawResizedCrop, type CropParams, type ImgBox, secoViews, type SecoViews } from './transforms/seco.ts';
export type { Dataset, OnBadSample, SampleRef, Warn } from './datasets/types.ts';
export { FolderDataset, type LabelSource, openVoc, VOC_CLASSES, type VocOptions } from './datasets/voc.ts';
export { COCO_CATEGORY_IDS, COCO_CLASSES, cocoClassIndex } from './datasets/coco-classes.ts';
export { annotationsToMask, type CocoAnnotation, decodeRleString, labelsFromAnnotations } from './datasets/coco-masks.ts';
export { cocoLabelsFromInstances, cocoSplitDir, convertCocoToVoc, type CocoOptions, openCoco } from './datasets/coco.ts';
export { generateSynthetic, openSynthetic, readSyntheticMeta, type SyntheticMeta, type SyntheticOptions } from './datasets/synthetic.ts';
export { type Batch, createLoader, DataLoader, type LoaderOptions } from './loader/loader.ts';
export { allocBatch, type BatchArrays, fillSlot, loadImage, loadMask, type LoaderMode, type SampleSpec } from './loader/sample.ts';
export { EpochSampler } from './loader/sampler.ts';
