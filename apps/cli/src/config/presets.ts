// Built-in configs. voc and coco hold SeCo's settings (docs/ALGORITHM.md §2.6, §3.7, §3.8, §5); demo is a tiny ViT on the
// synthetic co-occurrence set, with SeCo's schedule scaled to a few hundred iterations. toco and toco-demo train the
// ToCo baseline (method "toco") on the same data and network.
import type { SecoConfig } from './schema.ts';

const voc: SecoConfig = {
  method: 'seco',
  data: {
    dataset: 'voc',
    root: 'data/VOCdevkit/VOC2012',
    mask_root: null,
    train_list: 'data/voc/train_aug.txt',
    val_list: 'data/voc/val.txt',
    labels: 'data/voc/cls_labels_onehot.npy',
    num_classes: 20,
    workers: 2,
    synthetic: null,
  },
  model: {
    // ViT-B/16 (§2.1), DINOHead 768 -> 2048 -> 2048 -> 768 (§2.4)
    patch_size: 16,
    embed_dim: 768,
    depth: 12,
    num_heads: 12,
    mlp_ratio: 4,
    aux_layer: -3,
    proj_hidden_dim: 2048,
    proj_out_dim: 768,
    // a bare file name is looked up in the cache that `seco prepare pretrained` fills (src/cache-dir.ts)
    pretrained: 'jx_vit_base_p16_224-80ecf9dd.pth',
    // timm's ViT-B/16 keeps a 14 x 14 pos_embed, resized at every forward (§2.1)
    img_size: 224,
    grad_checkpointing: false,
  },
  train: {
    max_iters: 20000,
    batch_size: 4,
    crop_size: 448,
    local_crop_size: 64,
    ncrops: 12,
    lr: 6e-5,
    head_lr_mult: 10,
    weight_decay: 0.01,
    betas: [0.9, 0.999],
    eps: 1e-8,
    warmup_iters: 1500,
    warmup_ratio: 1e-6,
    poly_power: 0.9,
    seed: 0,
    autotune: 'auto',
    precision: 'f32',
  },
  loss: {
    weights: { cls: 1, cls_aux: 1, ptc: 0.3, lil: 0.5, lig: 0.5, seg: 0.12, reg: 0.05 },
    // train_voc.py: `n_iter <= 1000` cls+aux+ptc, `<= 2000` + lig + lil, then + seg + reg
    start: { cls: 0, cls_aux: 0, ptc: 0, lil: 1001, lig: 1001, seg: 2001, reg: 2001 },
    energy: { weight: 1e-7, sigma_rgb: 15, sigma_xy: 100, scale_factor: 0.5, sse_padding: true },
  },
  cam: { scales: [1.0, 0.5, 0.75, 1.5], bkg_thre: 0.5, high_thre: 0.7, low_thre: 0.25 },
  par: { dilations: [1, 2, 4, 8, 12, 24], iterations: 10, down_scale: 2 },
  seco: {
    momentum: 0.999,
    proto_m: 0.9,
    queue_size: 4608,
    update_prototype: 600,
    cam2mask: 10000,
    seg_mask_source: 0,
    tag_threshold: 0.2,
    temp_lil: 0.08,
    temp_lig: 0.1,
  },
  // ToCo's values (read only by method "toco"): CTCHead 2048 -> 256 -> 1024, teacher head momentum 0.9, CTC
  // temperature 0.5, negative crops at summed ROI / area <= 0.2 (docs/ALGORITHM.md §9).
  toco: { momentum: 0.9, temp: 0.5, proj_bottleneck_dim: 256, proj_out_dim: 1024, crop_threshold: 0.2 },
  eval: { interval: 2000, scales: [1.0, 1.25, 1.5], flip: true, crf: true, size: 448 },
  log: { interval: 200, checkpoint_interval: 2000, keep_checkpoints: 3 },
  debug: { nan_check: false },
};

const coco: SecoConfig = {
  ...voc,
  data: {
    dataset: 'coco',
    root: 'data/coco/JPEGImages',
    mask_root: 'data/coco/SegmentationClass',
    // The official run used train / val_part; the script defaults train_aug / val are VOC's (§3.8, §8 #11).
    train_list: 'data/coco/train.txt',
    val_list: 'data/coco/val_part.txt',
    labels: 'data/coco/cls_labels.json',
    num_classes: 80,
    workers: 2,
    synthetic: null,
  },
  // SeCo ran 2 GPUs x 4 images; one device with 8 sees the same global batch (96 keys per step, 4608 / 96 = 48).
  // warm-up, eval and log intervals are not listed among the COCO differences (§3.8), so they stay VOC's.
  train: { ...voc.train, max_iters: 80000, batch_size: 8 },
  loss: {
    weights: { cls: 1, cls_aux: 1, ptc: 0.2, lil: 0.3, lig: 0.5, seg: 0.12, reg: 0.05 },
    // train_coco.py: `<= 8000` cls+aux only (PTC 0), `<= 12000` + ptc, `<= 16000` + lig + lil, then + seg + reg
    start: { cls: 0, cls_aux: 0, ptc: 8001, lil: 12001, lig: 12001, seg: 16001, reg: 16001 },
    energy: voc.loss.energy,
  },
  cam: { scales: [1.0, 0.5, 0.75, 1.25, 1.5], bkg_thre: 0.45, high_thre: 0.65, low_thre: 0.25 },
  seco: { ...voc.seco, proto_m: 0.99, update_prototype: 6000, cam2mask: 50000, seg_mask_source: 12000 },
};

// 96 px synthetic images with patch 8: crops of 96 (12x12 tokens) and local crops of 32 (4x4 tokens); patch 16's
// 6x6 grid could not draw a wing or a leg. 500 iterations at lr 1e-3 (better than 5e-4 in a 300-iteration trial)
// with contrast from 60 and seg from 100, prototypes from 30, ROI switch at 200: a from-scratch tiny ViT needs seg
// on early to get its few hundred iterations. Training CAMs at scales 1 and 0.5: the 1.5 scale cost more than the
// student's own forward and backward together.
const demo: SecoConfig = {
  ...voc,
  data: {
    dataset: 'synthetic',
    root: 'runs/demo/synthetic',
    mask_root: null,
    train_list: 'runs/demo/synthetic/train.txt',
    val_list: 'runs/demo/synthetic/val.txt',
    labels: 'runs/demo/synthetic/cls_labels.json',
    num_classes: 5,
    workers: 1,
    // Contexts with their class 80% of the time, and now and then alone (water without a boat): with contexts
    // almost never alone (5%), every run we made labelled some whole context band as its class.
    synthetic: { images: 2000, cooccurrence: 0.8, context_only: 0.3, two_classes: 0.3, object_size: [0.4, 0.6] },
  },
  model: {
    patch_size: 8,
    embed_dim: 96,
    depth: 4,
    num_heads: 4,
    mlp_ratio: 4,
    aux_layer: -2,
    proj_hidden_dim: 256,
    proj_out_dim: 96,
    pretrained: null,
    img_size: null,
    grad_checkpointing: false,
  },
  train: { ...voc.train, max_iters: 500, crop_size: 96, local_crop_size: 32, lr: 1e-3, warmup_iters: 30 },
  // SeCo's order of terms (cls+aux+ptc, then + lil/lig, then + seg/reg) over a few hundred iterations; PAR and
  // the energy loss at reduced cost (PAR at 24², 4 dilations, 5 rounds; energy at 24²) to fit lavapipe's budget.
  loss: { ...voc.loss, start: { cls: 0, cls_aux: 0, ptc: 0, lil: 60, lig: 60, seg: 100, reg: 100 }, energy: { ...voc.loss.energy, scale_factor: 0.25 } },
  cam: { ...voc.cam, scales: [1.0, 0.5] },
  par: { dilations: [1, 2, 4, 8], iterations: 5, down_scale: 4 },
  seco: { ...voc.seco, queue_size: 480, update_prototype: 30, cam2mask: 200 },
  // The demo evaluates once at the end (seco demo); in-training validation would cost a val pass each time.
  eval: { interval: 0, scales: [1.0, 1.5], flip: true, crf: false, size: 96 },
  log: { interval: 10, checkpoint_interval: 100, keep_checkpoints: 2 },
};

// ToCo (CVPR 2023), the baseline SeCo extends, on VOC: dist_train_voc_seg_neg.py's settings (2 GPUs x 2 images
// seen as one batch of 4) on SeCo's backbone and heads (docs/ALGORITHM.md §9 lists where it departs from ToCo).
const toco: SecoConfig = {
  ...voc,
  method: 'toco',
  // 2 global views + 8 local crops of 96 px
  train: { ...voc.train, local_crop_size: 96, ncrops: 10 },
  loss: {
    weights: { cls: 1, cls_aux: 1, ptc: 0.2, ctc: 0.5, seg: 0.1, reg: 0.05 },
    // `n_iter <= 2000`: cls + aux + ptc + ctc; then + seg + reg
    start: { cls: 0, cls_aux: 0, ptc: 0, ctc: 0, seg: 2001, reg: 2001 },
    energy: voc.loss.energy,
  },
  cam: { ...voc.cam, scales: [1.0, 0.5, 1.5] },
};

// ToCo on the demo's data, network, lr and schedule, scaled from ToCo's VOC settings as demo scales SeCo's: seg and
// reg from 100 (SeCo's demo: 100), CTC from the start (as ToCo), training CAMs at 1 and 0.5 (the 1.5 scale dropped
// for cost, as in demo), local crops 1.5x SeCo's demo crops as at VOC (96 vs 64 px: 48 px, 6x6 tokens), 8 per
// image, and the CTC head at the demo's width (256 -> 32 -> 128, ToCo's 2048 -> 256 -> 1024 relative to 768).
const tocoDemo: SecoConfig = {
  ...demo,
  method: 'toco',
  train: { ...demo.train, local_crop_size: 48, ncrops: 10 },
  loss: {
    ...toco.loss,
    start: { cls: 0, cls_aux: 0, ptc: 0, ctc: 0, seg: 100, reg: 100 },
    energy: demo.loss.energy,
  },
  toco: { ...voc.toco, proj_bottleneck_dim: 32, proj_out_dim: 128 },
};

export const PRESETS = { voc, coco, demo, toco, 'toco-demo': tocoDemo } as const satisfies Record<string, SecoConfig>;
export type PresetName = keyof typeof PRESETS;

export function isPreset(name: string): name is PresetName {
  return Object.hasOwn(PRESETS, name);
}
