// Every file `seco prepare` fetches: where it lives, and the digest it must have. A digest is written here only
// when its source is named; where none could be checked from here, the entry says so and the prepared layout is
// verified by its structure instead (image, mask and label counts per split, the ViT's tensor shapes).

export interface KnownFile {
  /** Path under a --from folder, a --from mirror URL and the downloads folder (e.g. voc/train.txt). */
  name: string;
  /** Original locations, tried in order. */
  urls: readonly string[];
  /** Full sha256, computed here from a copy of the file. */
  sha256?: string;
  /** torch.hub's naming: the file name carries the first hex digits of the file's sha256. */
  sha256Prefix?: string;
  /** md5 as published by others (no sha256 is known for the file); checked as well as printed. */
  md5?: string;
  /** Where the digest comes from, or why there is none. */
  source: string;
}

// SeCo's lists and VOC labels, pinned to the commit docs/ALGORITHM.md describes. Their sha256 were computed from the git
// blobs of that commit (and equal the copies in the project's test data).
const SECO = 'https://raw.githubusercontent.com/zwyang6/SeCo/202357f1f97b349bcd8d7d54664eca2978619608/datasets';
const secoBlob = 'sha256 of the blob at zwyang6/SeCo 202357f';

export const KNOWN_FILES = {
  vocTrainval: {
    name: 'VOCtrainval_11-May-2012.tar',
    urls: ['http://host.robots.ox.ac.uk/pascal/VOC/voc2012/VOCtrainval_11-May-2012.tar'],
    md5: '6cd6e144f989b92b3379bac3b3de84fd',
    source: 'md5 as torchvision publishes it (datasets/voc.py); no sha256 could be computed from here',
  },
  segClassAug: {
    name: 'SegmentationClassAug.zip',
    urls: ['https://www.dropbox.com/s/oeu149j8qtbs1x0/SegmentationClassAug.zip?dl=1'],
    source: "SeCo's README link (SBD's masks merged with VOC's, as DeepLab released them); no digest is published and none could be computed from here: checked by its structure (a mask for every train_aug, train and val id)",
  },
  vocTrainAug: { name: 'voc/train_aug.txt', urls: [`${SECO}/voc/train_aug.txt`], sha256: 'd1326bd532648d73bc4b1bd275434eba81930982dc7401a65a8cecb26c028e24', source: secoBlob },
  vocTrain: { name: 'voc/train.txt', urls: [`${SECO}/voc/train.txt`], sha256: 'aa623bd2c8ce4443a8aaae51c524c0eb165e8e44caf6aa9e3ad33d7b75a3ef20', source: secoBlob },
  vocVal: { name: 'voc/val.txt', urls: [`${SECO}/voc/val.txt`], sha256: '6f8edc37993764f6e212237d39546fb595246244147e8a050813c520aac0ade1', source: secoBlob },
  vocTest: { name: 'voc/test.txt', urls: [`${SECO}/voc/test.txt`], sha256: '5e8fe0c14b2e6633fb2e3a0f5db65fb6b8f5217b574478bb21127a48fd33010f', source: secoBlob },
  vocLabels: {
    name: 'voc/cls_labels_onehot.npy',
    urls: [`${SECO}/voc/cls_labels_onehot.npy`],
    sha256: 'f2dfdcfdcd5f0a734ef5d447466508a9078b5dc40f9711b74711ed74906b5354',
    source: secoBlob,
  },
  cocoTrain: {
    name: 'train2014.zip',
    urls: ['http://images.cocodataset.org/zips/train2014.zip'],
    md5: '0da8c0bd3d6becc4dcb32757491aca88',
    source: 'md5 as published by LAVIS and others; no sha256 could be computed from here',
  },
  cocoVal: {
    name: 'val2014.zip',
    urls: ['http://images.cocodataset.org/zips/val2014.zip'],
    md5: 'a3d79f5ed8d289b7a7554ce06a5782b3',
    source: 'md5 as published by LAVIS and others; no sha256 could be computed from here',
  },
  cocoAnnotations: {
    name: 'annotations_trainval2014.zip',
    urls: ['http://images.cocodataset.org/annotations/annotations_trainval2014.zip'],
    md5: '0a379cfc70b0e71301e0f377548639bd',
    source: 'md5 as published by PaddleNLP and others; no sha256 could be computed from here',
  },
  cocoTrainList: { name: 'coco/train.txt', urls: [`${SECO}/coco/train.txt`], sha256: '2985c4b482da49946f2e5dfb9a12f44bee154529cd601f63b1105942d763a8f9', source: secoBlob },
  cocoValList: { name: 'coco/val.txt', urls: [`${SECO}/coco/val.txt`], sha256: '6f65de2c151265166b98f2202c9822d6a81f607f2c39e39c01d279d9de690c1a', source: secoBlob },
  cocoValPartList: { name: 'coco/val_part.txt', urls: [`${SECO}/coco/val_part.txt`], sha256: 'd1e5b115e000a8c1391d2cd49fcf48717b242cc02fe6f663f58217a776bab0f5', source: secoBlob },
  vit: {
    name: 'jx_vit_base_p16_224-80ecf9dd.pth',
    urls: ['https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-vitjx/jx_vit_base_p16_224-80ecf9dd.pth'],
    sha256Prefix: '80ecf9dd',
    source: "the sha256 prefix in the file name (torch.hub's check_hash convention); the full digest could not be computed from here. Also checked: timm's ViT-B/16 tensor shapes",
  },
} as const satisfies Record<string, KnownFile>;

export type FileKey = keyof typeof KNOWN_FILES;
export type FileTable = Record<FileKey, KnownFile>;
