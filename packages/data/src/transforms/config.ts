/** Every parameter of SeCo's augmentation (docs/ALGORITHM.md §3.1); defaults are the paper's VOC settings. */
export interface JitterConfig {
  brightness: number;
  contrast: number;
  saturation: number;
  hue: number;
}

export interface ViewConfig {
  flipP: number;
  jitter: JitterConfig;
  jitterP: number;
  grayP: number;
  blurP: number;
  blurRadius: [number, number];
  solarizeP: number;
}

export interface AugConfig {
  /** Side of the square training crop (448 in SeCo; tiny for demos). */
  cropSize: number;
  /** random_scaling ratio range. */
  scaleRange: [number, number];
  /** random_fliplr probability of the main crop. */
  flipP: number;
  /** Local (strong) view of the crop: s_image. */
  local: ViewConfig;
  /** Second global view of the un-scaled image: w_image. */
  global2: ViewConfig & { scale: [number, number]; ratio: [number, number] };
  mean: [number, number, number];
  std: [number, number, number];
}

export const IMAGENET_MEAN: [number, number, number] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: [number, number, number] = [0.229, 0.224, 0.225];

const JITTER: JitterConfig = { brightness: 0.4, contrast: 0.4, saturation: 0.2, hue: 0.1 };

export function defaultAugConfig(cropSize = 448): AugConfig {
  return {
    cropSize,
    scaleRange: [0.5, 2.0],
    flipP: 0.5,
    local: { flipP: 0.5, jitter: { ...JITTER }, jitterP: 0.8, grayP: 0.2, blurP: 0.5, blurRadius: [0.1, 2.0], solarizeP: 0 },
    global2: {
      flipP: 0.5, jitter: { ...JITTER }, jitterP: 0.8, grayP: 0.2, blurP: 0.1, blurRadius: [0.1, 2.0], solarizeP: 0.2,
      scale: [0.4, 1.0], ratio: [3 / 4, 4 / 3],
    },
    mean: [...IMAGENET_MEAN],
    std: [...IMAGENET_STD],
  };
}

/** Deep-merges a partial config over the defaults for its crop size. */
export function augConfig(partial: DeepPartial<AugConfig> = {}): AugConfig {
  return merge(defaultAugConfig(partial.cropSize ?? 448), partial) as AugConfig;
}

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends number[] ? T[K] : T[K] extends object ? DeepPartial<T[K]> : T[K] };

function merge(base: unknown, over: unknown): unknown {
  if (over === undefined) return base;
  if (Array.isArray(over) || typeof over !== 'object' || over === null) return over;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over)) {
    if (!(k in out)) throw new Error(`augmentation config: unknown key "${k}"`);
    out[k] = merge(out[k], v);
  }
  return out;
}
