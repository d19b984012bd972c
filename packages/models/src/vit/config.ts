/** A timm VisionTransformer's shape, as SeCo builds it (spec §2.1). */
export interface ViTConfig {
  /** Training image size: the pos_embed grid is imgSize / patchSize on each side. */
  imgSize: number;
  patchSize: number;
  inChans: number;
  embedDim: number;
  depth: number;
  numHeads: number;
  mlpRatio: number;
  /** timm's classification head (1000 in SeCo's checkpoint, never used); 0 leaves it out. */
  numClasses: number;
  /** LayerNorm eps (timm ViT: 1e-6). */
  eps: number;
  /** Block whose output is the aux tokens, counted from the end like SeCo's aux_layer (−3 → block depth−3). */
  auxLayer: number;
}

/** vit_base_patch16_224 as SeCo loads it. */
export const VIT_B16: ViTConfig = {
  imgSize: 224,
  patchSize: 16,
  inChans: 3,
  embedDim: 768,
  depth: 12,
  numHeads: 12,
  mlpRatio: 4,
  numClasses: 1000,
  eps: 1e-6,
  auxLayer: -3,
};

export function resolveConfig(c: Partial<ViTConfig>): ViTConfig {
  const cfg = { ...VIT_B16, ...c };
  const bad = (why: string) => new Error(`ViT config: ${why} (${JSON.stringify(cfg)})`);
  for (const k of ['imgSize', 'patchSize', 'inChans', 'embedDim', 'depth', 'numHeads'] as const) {
    if (!Number.isInteger(cfg[k]) || cfg[k] <= 0) throw bad(`${k} must be a positive integer`);
  }
  if (!Number.isInteger(cfg.numClasses) || cfg.numClasses < 0) throw bad('numClasses must be an integer >= 0');
  if (cfg.embedDim % cfg.numHeads !== 0) throw bad(`embedDim ${cfg.embedDim} is not divisible by numHeads ${cfg.numHeads}`);
  if (cfg.imgSize % cfg.patchSize !== 0) throw bad(`imgSize ${cfg.imgSize} is not a multiple of patchSize ${cfg.patchSize}`);
  const aux = cfg.auxLayer < 0 ? cfg.depth + cfg.auxLayer : cfg.auxLayer;
  if (!Number.isInteger(aux) || aux < 0 || aux >= cfg.depth) throw bad(`auxLayer ${cfg.auxLayer} is outside ${cfg.depth} blocks`);
  return cfg;
}
