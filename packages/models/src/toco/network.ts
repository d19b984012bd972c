// ToCo's network (model/model_seg_neg.py) on the shared heads: encoder, the CTC projection head and its EMA
// teacher, the seg decoder, classifier and aux_classifier, with ToCo's state_dict names.
import type { StudentNetworkConfig } from '../cam-seg-forward.ts';
import type { ASPP } from '../heads/aspp.ts';
import type { Classifier1x1 } from '../heads/classifier.ts';
import { DINOHead } from '../heads/dino-head.ts';
import { type InferenceConfig, sharedNetworkConfig } from '../inference/config.ts';
import { copyToTeacher, emaToTeacher } from '../teacher.ts';
import { ProjectedNetwork } from '../projected-network.ts';
import { VisionTransformer } from '../vit.ts';

/** ToCo's proj_head_t momentum (--momentum 0.9). */
export const TOCO_HEAD_MOMENTUM = 0.9;

export interface TocoNetworkConfig extends StudentNetworkConfig {
  /** CTCHead hidden width (2048), bottleneck (256) and output width (1024). */
  projHidden?: number;
  projBottleneck?: number;
  projOut?: number;
  /** proj_head → proj_head_t EMA momentum: 0.9. */
  momentum?: number;
}

/** The structural config of a ToCo run (the CLI's config with method "toco") as a TocoNetworkConfig. */
export function tocoNetworkConfig(config: InferenceConfig): TocoNetworkConfig {
  const t = config.toco;
  if (!t) throw new Error('config: method "toco" needs the toco section (momentum, proj_bottleneck_dim, proj_out_dim)');
  return {
    ...sharedNetworkConfig(config),
    projHidden: config.model.proj_hidden_dim,
    projBottleneck: t.proj_bottleneck_dim,
    projOut: t.proj_out_dim,
    momentum: t.momentum,
  };
}

/**
 * ToCo's `network`: encoder, proj_head (CTCHead: DINO's head with its weight-normed last layer applied),
 * proj_head_t (a frozen copy, EMA-updated), decoder, classifier, aux_classifier. The decoder is SeCo's ASPP, not
 * ToCo's LargeFOV, so that the two methods differ only in what ToCo and SeCo add to the shared heads.
 */
export class TocoNetwork extends ProjectedNetwork {
  readonly momentum: number;
  readonly encoder: VisionTransformer;
  readonly projHead: DINOHead;
  readonly projHeadT: DINOHead;
  readonly decoder: ASPP;
  readonly classifier: Classifier1x1;
  readonly auxClassifier: Classifier1x1;

  constructor(config: TocoNetworkConfig) {
    super('TocoNetwork', config.numClasses);
    const g = config.generator;
    this.momentum = config.momentum ?? TOCO_HEAD_MOMENTUM;
    this.encoder = this.registerModule('encoder', new VisionTransformer(config.backbone, g));
    const D = this.encoder.embedDim;
    const head = () =>
      new DINOHead(D, { hiddenDim: config.projHidden ?? 2048, bottleneckDim: config.projBottleneck ?? 256, outDim: config.projOut ?? 1024, lastLayer: true, generator: g });
    ({ projHead: this.projHead, projHeadT: this.projHeadT, decoder: this.decoder, classifier: this.classifier, auxClassifier: this.auxClassifier } = this.registerHeads(D, head, config.asppRates, g));
    this.syncTeachers();
  }

  /** proj_head_t ← proj_head, frozen (ToCo's init copy). */
  syncTeachers(): void {
    copyToTeacher(this.projHeadT, this.projHead);
  }

  /** _EMA_update_encoder_teacher: proj_head_t ← m·proj_head_t + (1−m)·proj_head (ToCo's only teacher). */
  emaUpdateProjHead(m = this.momentum): void {
    emaToTeacher(this.projHeadT, this.projHead, m, this.masterOf);
  }

  /** Nothing lives on the host: the state dict is the whole state. */
  afterStateLoad(): Promise<void> {
    return Promise.resolve();
  }
}
