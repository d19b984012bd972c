// `--set` overrides that point a config at the VOC sample in ../shared/data (its images, lists and labels), at
// the 64-px sizes the CLI tests train and evaluate at.
import { join } from 'node:path';
import { sharedDataDir } from '../../../../test/support/fixtures.ts';

export const vocSample = join(sharedDataDir, 'voc-sample');

export const VOC_SAMPLE_SETS: readonly string[] = [
  `data.root=${join(vocSample, 'VOC2012')}`,
  `data.train_list=${join(vocSample, 'lists', 'train.txt')}`,
  `data.val_list=${join(vocSample, 'lists', 'val.txt')}`,
  `data.labels=${join(sharedDataDir, 'voc-full-labels', 'cls_labels_onehot.npy')}`,
  'data.num_classes=20',
  'eval.size=64',
  'eval.crf=false',
  'train.crop_size=64',
];
