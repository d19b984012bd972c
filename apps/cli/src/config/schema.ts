// The one schema of a run's config. Names follow SeCo's train-script arguments (docs/ALGORITHM.md §3.7/§3.8) where one
// exists; the TypeScript type SecoConfig is derived from it, so a key added here is typed everywhere.
import { METHODS, METHOD_NAMES, type MethodName } from '@seco/models';
import { bool, ConfigError, type Infer, list, nullable, num, obj, oneOf, record, str } from './validate.ts';

const unit = () => num({ min: 0, max: 1 });
const iter = () => num({ int: true, min: 0 });
const weight = () => num({ min: 0 });
const positive = () => num({ gt: 0 });
const count = () => num({ int: true, min: 1 });

/** One value per loss term of the config's method (checkConsistency holds the keys to its lossTerms). */
const perTerm = <T>(f: () => import('./validate.ts').Field<T>) => record(f());

export const configSchema = obj({
  /** The WSSS method trained: SeCo, or the ToCo baseline it extends (same backbone and heads, its own losses). */
  method: oneOf(METHOD_NAMES as [MethodName, ...MethodName[]]),
  data: obj({
    dataset: oneOf(['voc', 'coco', 'synthetic'] as const),
    /** VOC: the VOC2012 folder; COCO: the image root; synthetic: the generated folder. Relative to the cwd. */
    root: str(),
    /** COCO only: the VOC-style mask root (null for VOC and synthetic, whose masks sit under root). */
    mask_root: nullable(str()),
    train_list: str(),
    val_list: str(),
    /** cls_labels_onehot.npy or a JSON { id: [class indices] }; null derives them (synthetic: cls_labels.json). */
    labels: nullable(str()),
    /** Foreground classes (20 VOC, 80 COCO); background is added as class 0. */
    num_classes: count(),
    workers: num({ int: true, min: 0 }),
    /** How `seco demo` generates the synthetic set when root holds none (null for voc and coco). */
    synthetic: nullable(
      obj({
        images: count(),
        /** Share of images with class c that also show c's context. */
        cooccurrence: unit(),
        /** Share of images that show the context of a class they do not contain. */
        context_only: unit(),
        two_classes: unit(),
        /** Object width as a share of the image side: [min, max]. */
        object_size: list(num({ gt: 0, max: 1 }), { length: 2 }),
      }),
    ),
  }),
  model: obj({
    patch_size: count(),
    embed_dim: count(),
    depth: count(),
    num_heads: count(),
    mlp_ratio: positive(),
    /** Block whose output feeds the aux classifier, negative from the end (SeCo: -3, block 9 of 12). */
    aux_layer: num({ int: true }),
    proj_hidden_dim: count(),
    proj_out_dim: count(),
    /** timm ViT weights (.pth / .safetensors) to start from; null trains from a random init. */
    pretrained: nullable(str()),
    /**
     * The image size the position embeddings are made for (timm's img_size: a grid of img_size / patch_size
     * per side), resized to every input's grid at each forward as SeCo does (§2.1). null: train.crop_size.
     */
    img_size: nullable(count()),
    /**
     * timm's set_grad_checkpointing: the student's ViT blocks keep only their inputs and run again in backward,
     * for about a third more compute and a fraction of the activation memory; the gradients are the same.
     */
    grad_checkpointing: bool(),
  }),
  train: obj({
    max_iters: count(),
    batch_size: count(),
    crop_size: count(),
    local_crop_size: count(),
    /** 2 global views + local crops per image (SeCo: 12, so 10 local crops). */
    ncrops: num({ int: true, min: 3 }),
    /** Backbone lr; heads and decoder get lr × head_lr_mult (SeCo: 6e-5 and 10). */
    lr: positive(),
    head_lr_mult: positive(),
    weight_decay: weight(),
    betas: list(num({ min: 0, max: 1 }), { length: 2 }),
    eps: positive(),
    warmup_iters: iter(),
    /** lr multiplier at step 0 (SeCo's --warmup_lr 1e-6 is this ratio). */
    warmup_ratio: unit(),
    poly_power: positive(),
    seed: num({ int: true, min: 0 }),
    /**
     * Time the matmul tile candidates on the shapes of the first iteration, once per adapter (kept with the
     * warm-start cache): 'auto' on GPUs, not on CPU rasterizers (minutes there at real size).
     */
    autotune: oneOf(['auto', 'on', 'off'] as const),
    /**
     * 'f32' (SeCo's numbers) or 'mixed': an f16 student through f32 master weights, f32 losses and dynamic loss
     * scaling that skips overflowing steps (needs the adapter feature shader-f16).
     */
    precision: oneOf(['f32', 'mixed'] as const),
  }),
  loss: obj({
    weights: perTerm(weight),
    /** First 0-based iteration at which a term counts; the reference's `n_iter <= 1000` means a start of 1001. */
    start: perTerm(iter),
    /**
     * DenseEnergyLoss (rloss) inner settings; the reg weight above multiplies its output. sse_padding: the lattice
     * pads the pixels to a multiple of 4 like rloss' x86 build (true, SeCo's), or not (false).
     */
    energy: obj({ weight: positive(), sigma_rgb: positive(), sigma_xy: positive(), scale_factor: positive(), sse_padding: bool() }),
  }),
  cam: obj({
    scales: list(positive(), { minLength: 1 }),
    bkg_thre: unit(),
    high_thre: unit(),
    low_thre: unit(),
  }),
  /** PAR for the seg pseudo labels (§3.3): SeCo refines at crop/down_scale with these dilations and rounds. */
  par: obj({ dilations: list(count(), { minLength: 1 }), iterations: num({ int: true, min: 0 }), down_scale: count() }),
  seco: obj({
    momentum: unit(),
    proto_m: unit(),
    queue_size: count(),
    update_prototype: iter(),
    /** ROI masks come from the aux CAM before this iteration, from the final CAM after. */
    cam2mask: iter(),
    /** Seg pseudo labels come from the aux CAM before this iteration (COCO 12000; VOC always final: 0). */
    seg_mask_source: iter(),
    tag_threshold: unit(),
    temp_lil: positive(),
    temp_lig: positive(),
  }),
  /** ToCo's own settings (read when method is "toco"): CTC head widths, its teacher's momentum, CTC temperature. */
  toco: obj({
    momentum: unit(),
    temp: positive(),
    proj_bottleneck_dim: count(),
    proj_out_dim: count(),
    /** A local crop is negative when its summed ROI (0, 1, 2) over its area is at most this (ToCo: 0.2). */
    crop_threshold: unit(),
  }),
  eval: obj({
    /** In-training validation every N iterations (0: never). */
    interval: iter(),
    /** Final inference scales (each also flipped when flip is true). */
    scales: list(positive(), { minLength: 1 }),
    flip: bool(),
    crf: bool(),
    /** Validation images are resized to size × size, as SeCo's validation does. */
    size: count(),
  }),
  log: obj({
    interval: count(),
    checkpoint_interval: iter(),
    keep_checkpoints: count(),
  }),
  debug: obj({
    /** The NaN finder: a check after every op, so a divergence names the first op that made a NaN or Inf (slow). */
    nan_check: bool(),
  }),
});

export type SecoConfig = Infer<typeof configSchema>;

/** Relations a single field cannot check. Each message names the keys involved. */
export function checkConsistency(c: SecoConfig): void {
  const fail = (msg: string): never => {
    throw new ConfigError(`config: ${msg}`);
  };
  const { cam, train, model, seco } = c;
  const terms: readonly string[] = METHODS[c.method].lossTerms;
  for (const part of ['weights', 'start'] as const) {
    const keys = Object.keys(c.loss[part]);
    const missing = terms.filter((t) => !keys.includes(t));
    const extra = keys.filter((k) => !terms.includes(k));
    if (missing.length || extra.length) {
      const what = [missing.length ? `missing ${missing.join(', ')}` : '', extra.length ? `not a ${c.method} term: ${extra.join(', ')}` : ''].filter(Boolean).join('; ');
      fail(`loss.${part} must name exactly the loss terms of method "${c.method}" (${terms.join(', ')}): ${what}`);
    }
  }
  if (!(cam.low_thre <= cam.bkg_thre && cam.bkg_thre <= cam.high_thre)) {
    fail(`cam.low_thre (${cam.low_thre}) <= cam.bkg_thre (${cam.bkg_thre}) <= cam.high_thre (${cam.high_thre}) must hold`);
  }
  if (model.embed_dim % model.num_heads !== 0) fail(`model.embed_dim (${model.embed_dim}) must be divisible by model.num_heads (${model.num_heads})`);
  for (const k of ['crop_size', 'local_crop_size'] as const) {
    if (train[k] % model.patch_size !== 0) fail(`train.${k} (${train[k]}) must be a multiple of model.patch_size (${model.patch_size})`);
  }
  if (train.local_crop_size > train.crop_size) fail(`train.local_crop_size (${train.local_crop_size}) exceeds train.crop_size (${train.crop_size})`);
  if (model.aux_layer >= model.depth || model.aux_layer < -model.depth) fail(`model.aux_layer (${model.aux_layer}) is not a block of a depth-${model.depth} ViT`);
  // SeCo asserts this: each step enqueues batch × ncrops keys and the pointer wraps exactly.
  const keys = train.batch_size * train.ncrops;
  if (c.method === 'seco' && seco.queue_size % keys !== 0) fail(`seco.queue_size (${seco.queue_size}) must be divisible by train.batch_size × train.ncrops (${keys})`);
  if (train.warmup_iters >= train.max_iters) fail(`train.warmup_iters (${train.warmup_iters}) must be below train.max_iters (${train.max_iters})`);
  if (c.data.dataset === 'coco' && c.data.mask_root === null) fail('data.mask_root is required for data.dataset "coco"');
  const syn = c.data.synthetic;
  if (syn && syn.object_size[0] > syn.object_size[1]) fail(`data.synthetic.object_size [${syn.object_size.join(', ')}] must be [min, max]`);
}
