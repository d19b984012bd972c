// What inference needs to know of a run's config, structurally: the CLI's SecoConfig fits it as it is, and the
// browser builds one from a checkpoint's stored config or from the tensor shapes of a bare state_dict.
import type { TensorRecord } from '@seco/tensor';
import type { StudentNetworkConfig } from '../cam-seg-forward.ts';

export interface EvalOptions {
  /** Images are resized to size × size before the network (SeCo's evaluation ignores the aspect ratio). */
  size: number;
  /** Each scale multiplies size; logits are summed over flips and max-pooled over scales. */
  scales: readonly number[];
  flip: boolean;
  /** DenseCRF on the softmax of the fused logits (host side). */
  crf: boolean;
}

export interface InferenceConfig {
  /** The WSSS method whose network this is; absent: 'seco' (configs written before there was a choice). */
  method?: 'seco' | 'toco';
  /** Foreground classes; background is class 0. */
  data: { num_classes: number };
  model: {
    patch_size: number;
    embed_dim: number;
    depth: number;
    num_heads: number;
    mlp_ratio: number;
    aux_layer: number;
    proj_hidden_dim: number;
    proj_out_dim: number;
    /** timm's classification head kept in SeCo's checkpoints (1000; unused); absent or 0: none. */
    vit_head_classes?: number;
    /** out_dim of the projection heads' unused last_layer; absent: proj_out_dim (SeCo: 768 both). */
    proj_last_dim?: number;
    /** The size the position embeddings are made for (grid img_size / patch_size); absent or null: crop_size. */
    img_size?: number | null;
  };
  /** The network's position grid is crop_size / patch_size unless model.img_size is given. */
  train: { crop_size: number };
  seco: { queue_size: number; momentum: number };
  /** ToCo's projection head and teacher momentum; read only when method is 'toco'. */
  toco?: { momentum: number; proj_bottleneck_dim: number; proj_out_dim: number };
  eval: EvalOptions;
  cam: { bkg_thre: number };
}

/** The classes and backbone of a run's config: what every method's network config starts from. */
export function sharedNetworkConfig(config: InferenceConfig): StudentNetworkConfig {
  const m = config.model;
  return {
    numClasses: config.data.num_classes + 1,
    backbone: {
      imgSize: m.img_size ?? config.train.crop_size,
      patchSize: m.patch_size,
      embedDim: m.embed_dim,
      depth: m.depth,
      numHeads: m.num_heads,
      mlpRatio: m.mlp_ratio,
      auxLayer: m.aux_layer,
      numClasses: m.vit_head_classes ?? 0,
    },
  };
}

/**
 * The shapes of the parts SeCo's checkpoints hold but no forward uses (timm's ViT head, DINOHead's last_layer),
 * read from the tensors, so a released checkpoint loads strictly.
 */
export function unusedParts(sd: TensorRecord): Pick<InferenceConfig['model'], 'vit_head_classes' | 'proj_last_dim'> {
  const head = sd['encoder.head.weight']?.shape;
  const last = sd['proj_head.last_layer.weight_v']?.shape;
  return { ...(head ? { vit_head_classes: head[0] } : {}), ...(last ? { proj_last_dim: last[0] } : {}) };
}

const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const PATHS = [
  'data.num_classes', 'model.patch_size', 'model.embed_dim', 'model.depth', 'model.num_heads', 'model.mlp_ratio', 'model.aux_layer',
  'model.proj_hidden_dim', 'model.proj_out_dim', 'train.crop_size', 'seco.queue_size', 'seco.momentum', 'eval.size', 'cam.bkg_thre',
] as const;
const TOCO_PATHS = ['toco.momentum', 'toco.proj_bottleneck_dim', 'toco.proj_out_dim'] as const;

/**
 * The stored config of a `seco train` checkpoint (its `meta.config`) as an InferenceConfig; throws naming the
 * keys that are missing or not numbers (e.g. a checkpoint written by something else).
 */
export function inferenceConfigFrom(value: unknown, file: string): InferenceConfig {
  const get = (path: string): unknown => path.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), value);
  const method = get('method') ?? 'seco';
  if (method !== 'seco' && method !== 'toco') throw new Error(`${file}: the stored config's method ${JSON.stringify(method)} is neither "seco" nor "toco"`);
  const bad: string[] = [...PATHS, ...(method === 'toco' ? TOCO_PATHS : [])].filter((p) => !num(get(p)));
  const scales = get('eval.scales');
  if (!Array.isArray(scales) || scales.length === 0 || !scales.every((s) => num(s) && s > 0)) bad.push('eval.scales');
  for (const p of ['eval.flip', 'eval.crf']) if (typeof get(p) !== 'boolean') bad.push(p);
  if (bad.length > 0) {
    const named = bad.length > 4 ? `${bad.slice(0, 4).join(', ')} and ${bad.length - 4} more` : bad.join(', ');
    throw new Error(`${file}: the stored config is not a SeCo config (missing or invalid: ${named})`);
  }
  return value as InferenceConfig;
}

/** How a network shape was found: every field read from a tensor, or assumed (named, with the reason). */
export interface InferredShape {
  config: InferenceConfig;
  /** Human-readable notes on what could not be read from the weights. */
  assumed: string[];
}

/**
 * Evaluation for a state_dict that carries no config: SeCo's final VOC inference (§5: 448 px, scales 1, 1.25 and
 * 1.5, flip) without its DenseCRF step, which runs on the host and costs seconds per image; ask for it with eval.crf.
 */
const DEFAULT_EVAL: EvalOptions = { size: 448, scales: [1, 1.25, 1.5], flip: true, crf: false };

/**
 * The network shape of a bare SeCo state_dict from its tensor shapes: embed dim, patch size and position grid
 * (patch_embed, pos_embed), depth (blocks.N), MLP ratio (fc1), classes (classifier), projection widths
 * (proj_head, prototypes) and the queue length; a network without queue and momentum encoder whose projection head
 * has a last layer is ToCo's. Attention heads leave no trace in the shapes: embed_dim / 64
 * (timm's ViTs) unless `numHeads` is given; the aux layer does not change the seg or CAM outputs (SeCo's -3, or the last block of
 * shallower networks).
 */
export function inferInferenceConfig(sd: TensorRecord, file: string, options: { numHeads?: number } = {}): InferredShape {
  const shape = (k: string) => sd[k]?.shape as readonly number[] | undefined;
  const pw = shape('encoder.patch_embed.proj.weight');
  const cls = shape('classifier.weight');
  if (!pw || pw.length !== 4 || !cls) {
    const keys = Object.keys(sd);
    const some = keys.slice(0, 5).join(', ') + (keys.length > 5 ? `, ... (${keys.length} tensors)` : '');
    throw new Error(`${file}: not a SeCo network: no encoder.patch_embed.proj.weight or classifier.weight (it holds ${some || 'no tensors'})`);
  }
  const [D, , P] = pw;
  let depth = 0;
  while (sd[`encoder.blocks.${depth}.norm1.weight`]) depth++;
  if (depth === 0) throw new Error(`${file}: not a SeCo network: no encoder.blocks.0.* tensors`);
  const pos = shape('encoder.pos_embed');
  const grid = pos ? Math.round(Math.sqrt(pos[1] - 1)) : 0;
  if (!pos || grid * grid !== pos[1] - 1) throw new Error(`${file}: encoder.pos_embed of shape [${pos ?? ''}] is not 1 + a square grid of positions`);
  const fc1 = shape('encoder.blocks.0.mlp.fc1.weight');
  const proj0 = shape('proj_head.mlp.0.weight');
  const protos = shape('prototypes');
  const queue = shape('queue');
  const assumed: string[] = [];
  const unused = unusedParts(sd);
  let heads = options.numHeads;
  if (heads === undefined) {
    heads = D % 64 === 0 ? D / 64 : 1;
    assumed.push(`attention heads: ${heads} (not stored in the weights; ${D % 64 === 0 ? 'embed_dim / 64' : 'embed_dim is not a multiple of 64'})`);
  } else if (!(Number.isInteger(heads) && heads >= 1 && D % heads === 0)) {
    throw new Error(`${file}: ${heads} attention heads do not divide embed_dim ${D}`);
  }
  assumed.push(`evaluation: size ${DEFAULT_EVAL.size}, scales ${DEFAULT_EVAL.scales.join(', ')}, flip (SeCo's defaults; no config stored)`);
  // ToCo's network has no momentum encoder and no queue, and applies its projection head's last layer.
  const bottleneck = shape('proj_head.mlp.4.weight');
  const last = shape('proj_head.last_layer.weight_v');
  const toco = !queue && !sd['encoder_k.patch_embed.proj.weight'] && bottleneck && last;
  const config: InferenceConfig = {
    ...(toco ? { method: 'toco' as const, toco: { momentum: 0.9, proj_bottleneck_dim: bottleneck[0], proj_out_dim: last[0] } } : {}),
    data: { num_classes: cls[0] },
    model: {
      patch_size: P,
      embed_dim: D,
      depth,
      num_heads: heads,
      mlp_ratio: fc1 ? fc1[0] / D : 4,
      aux_layer: depth >= 3 ? -3 : -1,
      proj_hidden_dim: proj0 ? proj0[0] : 2048,
      proj_out_dim: protos ? protos[1] : 768,
      img_size: grid * P,
      ...unused,
    },
    train: { crop_size: grid * P },
    seco: { queue_size: queue ? queue[0] : 4608, momentum: 0.999 },
    eval: { ...DEFAULT_EVAL },
    cam: { bkg_thre: 0.5 },
  };
  return { config, assumed };
}
