import {
  add,
  checkpoint,
  compareKeys,
  concat,
  contiguous,
  expand,
  formatKeyReport,
  type Generator,
  nn,
  requireGrad,
  scope,
  slice,
  type SourceInput,
  type Tensor,
  TensorError,
  type TensorRecord,
} from '@seco/tensor';
import { Block } from './vit/block.ts';
import { resolveConfig, type ViTConfig } from './vit/config.ts';
import { truncNormal } from './vit/init.ts';
import { timmLinear } from './vit/linear.ts';
import { PatchEmbed } from './vit/patch-embed.ts';
import { resizePosEmbed } from './vit/pos-embed.ts';
import { readStateDict } from './vit/weights.ts';

export { VIT_B16, type ViTConfig } from './vit/config.ts';
export { readStateDict } from './vit/weights.ts';
export { resizePosEmbed } from './vit/pos-embed.ts';

/** What SeCo's forward_features returns. */
export interface ViTFeatures {
  /** (B, D): the cls token after the final LayerNorm. */
  cls: Tensor;
  /** (B, h·w, D): patch tokens after the final LayerNorm, row-major over the patch grid. */
  patchTokens: Tensor;
  /** (B, h·w, D): patch tokens out of block depth+auxLayer, without the final norm. */
  auxTokens: Tensor;
  /** The patch grid (h, w) = (⌊H/p⌋, ⌊W/p⌋). */
  grid: [number, number];
}

/** Called with named intermediates (pos_embed_resized, tokens_after_prepare, block_i_out); copy what you keep. */
export type ViTTrace = (name: string, t: Tensor) => void;

/**
 * What to do with image rows/columns past the last whole patch. PyTorch's conv drops them silently; 'warn'
 * (the default) drops them too but says so once per image size, 'error' refuses such inputs.
 */
export type RemainderPolicy = 'drop' | 'warn' | 'error';

export interface FromPretrainedOptions {
  /** Overrides; every shape except numHeads is otherwise read from the weights (numHeads defaults to D/64). */
  config?: Partial<ViTConfig>;
  /** Keep only keys under this prefix, stripped (e.g. 'encoder.'). */
  prefix?: string;
}

/**
 * SeCo's ViT (model/backbone/vit.py) with timm's parameter names, so a timm ViT state dict loads strictly.
 * pos_embed is frozen (SeCo sets requires_grad=False before loading) and resized to every input's grid.
 */
export class VisionTransformer extends nn.Module<[Tensor], ViTFeatures> {
  readonly config: ViTConfig;
  readonly clsToken: Tensor;
  readonly posEmbed: Tensor;
  readonly patchEmbed: PatchEmbed;
  readonly blocks: nn.ModuleList<Block>;
  readonly norm: nn.LayerNorm;
  readonly head: nn.Linear | null;
  remainder: RemainderPolicy = 'warn';
  /**
   * timm's set_grad_checkpointing: with grad on, each block keeps only its input and runs again in backward
   * (about one more forward of the blocks, for a fraction of their activation memory). Same gradients.
   */
  gradCheckpointing = false;
  private readonly warned = new Set<string>();

  constructor(config: Partial<ViTConfig> = {}, gen?: Generator) {
    super();
    const c = (this.config = resolveConfig(config));
    const g = c.imgSize / c.patchSize;
    const D = c.embedDim;
    this.clsToken = this.registerParameter('cls_token', truncNormal([1, 1, D], 1e-6, -2, 2, gen));
    this.posEmbed = this.registerParameter('pos_embed', truncNormal([1, 1 + g * g, D], 0.02, -2, 2, gen));
    requireGrad(this.posEmbed, false);
    this.patchEmbed = this.registerModule('patch_embed', new PatchEmbed(c.inChans, D, c.patchSize, gen));
    const blocks = Array.from({ length: c.depth }, () => new Block(D, c.numHeads, c.mlpRatio, c.eps, gen));
    this.blocks = this.registerModule('blocks', new nn.ModuleList(blocks));
    this.norm = this.registerModule('norm', new nn.LayerNorm(D, { eps: c.eps }));
    this.head = this.registerModule('head', c.numClasses > 0 ? timmLinear(D, c.numClasses, gen) : null);
  }

  get auxIndex(): number {
    const { auxLayer, depth } = this.config;
    return auxLayer < 0 ? depth + auxLayer : auxLayer;
  }

  get embedDim(): number {
    return this.config.embedDim;
  }

  private checkRemainder(x: Tensor): void {
    const p = this.config.patchSize;
    const [, , H, W] = x.shape;
    if (H % p === 0 && W % p === 0 || this.remainder === 'drop') return;
    const msg = `image ${H}×${W} is not a multiple of the ${p}-pixel patch: the last ${H % p} rows and ${W % p} columns are ignored`;
    if (this.remainder === 'error') throw new TensorError('ViT', msg);
    if (!this.warned.has(`${H}x${W}`)) {
      this.warned.add(`${H}x${W}`);
      console.warn(`ViT: ${msg} (as PyTorch's conv does)`);
    }
  }

  /** SeCo's forward_features on a normalised NCHW batch. */
  forwardFeatures(x: Tensor, trace?: ViTTrace): ViTFeatures {
    const [h, w] = this.patchEmbed.grid(x);
    this.checkRemainder(x);
    const B = x.shape[0];
    const D = this.config.embedDim;
    const g = this.config.imgSize / this.config.patchSize;
    const aux = this.auxIndex;
    const out = scope(() => {
      const pos = resizePosEmbed(this.posEmbed, [g, g], h, w);
      trace?.('pos_embed_resized', pos);
      const tokens = concat([expand(this.clsToken, [B, 1, D]), this.patchEmbed.forward(x)], 1);
      let t = add(tokens, pos);
      tokens.dispose();
      trace?.('tokens_after_prepare', t);
      let auxTokens: Tensor | null = null;
      for (const [i, blk] of [...this.blocks].entries()) {
        const next = this.gradCheckpointing ? checkpoint((u) => blk.forward(u), [t], blk.parameters()) : blk.forward(t);
        t.dispose(); // autograd keeps what it saved; this frees the activation early in no-grad passes
        t = next;
        trace?.(`block_${i}_out`, t);
        if (i === aux) auxTokens = contiguous(slice(t, [null, [1]]));
      }
      const n = this.norm.forward(t);
      return { cls: contiguous(slice(n, [null, 0])), patchTokens: contiguous(slice(n, [null, [1]])), auxTokens: auxTokens! };
    });
    return { ...out, grid: [h, w] };
  }

  forward(x: Tensor): ViTFeatures {
    return this.forwardFeatures(x);
  }

  /**
   * A ViT shaped after the weights (timm names), loaded strictly. Weights of another architecture fail with
   * the missing, unexpected and mis-shaped keys named.
   */
  static async fromPretrained(source: SourceInput, options: FromPretrainedOptions = {}): Promise<VisionTransformer> {
    const sd = await readStateDict(source, options.prefix);
    return VisionTransformer.fromStateDict(sd, options.config);
  }

  static fromStateDict(sd: TensorRecord, overrides: Partial<ViTConfig> = {}): VisionTransformer {
    const config = { ...inferConfig(sd), ...overrides };
    try {
      resolveConfig(config);
    } catch (e) {
      const keys = Object.keys(sd);
      const list = keys.slice(0, 8).join(', ') + (keys.length > 8 ? ', …' : '');
      throw new TensorError('VisionTransformer.fromPretrained', `weights do not fit a ViT (${(e as Error).message}); the record has ${list}`);
    }
    const model = new VisionTransformer(config);
    const expected = Object.entries(model.stateDict()).map(([k, t]) => [k, t.shape] as const);
    const report = compareKeys(sd, expected);
    if (!report.ok) {
      model.dispose();
      throw new TensorError('VisionTransformer.fromPretrained', `weights do not fit a ViT ${JSON.stringify(model.config)}: ${formatKeyReport(report)}`);
    }
    model.loadStateDict(sd);
    return model;
  }
}

/** Reads a ViT's shape off timm-named weights; whatever is absent keeps the ViT-B/16 default. */
export function inferConfig(sd: TensorRecord): Partial<ViTConfig> {
  const c: Partial<ViTConfig> = {};
  const pw = sd['patch_embed.proj.weight']?.shape;
  if (pw?.length === 4) Object.assign(c, { embedDim: pw[0], inChans: pw[1], patchSize: pw[2] });
  let depth = 0;
  while (sd[`blocks.${depth}.norm1.weight`]) depth++;
  if (depth > 0) c.depth = depth;
  const pos = sd.pos_embed?.shape;
  const g = pos ? Math.round(Math.sqrt(pos[1] - 1)) : 0;
  if (pos && g * g === pos[1] - 1 && c.patchSize) c.imgSize = g * c.patchSize;
  const fc1 = sd['blocks.0.mlp.fc1.weight']?.shape;
  if (fc1 && c.embedDim) c.mlpRatio = fc1[0] / c.embedDim;
  c.numClasses = sd['head.weight'] ? sd['head.weight'].shape[0] : 0;
  if (c.embedDim && c.embedDim % 64 === 0) c.numHeads = c.embedDim / 64;
  return c;
}
