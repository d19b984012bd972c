// ToCo's network (model/model_seg_neg.py) on the shared heads: encoder, the CTC projection head and its EMA
// teacher, the seg decoder, classifier and aux_classifier, with ToCo's state_dict names.
import { type AdamWHyper, nn, type ParamGroupSpec, type Tensor, TensorError } from '@seco/tensor';
import { camSegCamOnly, camSegForward, type HeadOutputs, type StudentNetworkConfig } from '../cam-seg-forward.ts';
import { ASPP, ASPP_RATES } from '../heads/aspp.ts';
import { Classifier1x1 } from '../heads/classifier.ts';
import { DINOHead } from '../heads/dino-head.ts';
import { type InferenceConfig, sharedNetworkConfig } from '../inference/config.ts';
import { copyToTeacher, emaToTeacher } from '../teacher.ts';
import { projectedParamGroups } from '../train/param-groups.ts';
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
export class TocoNetwork extends nn.Module<[Tensor], HeadOutputs> {
  readonly numClasses: number;
  readonly momentum: number;
  readonly encoder: VisionTransformer;
  readonly projHead: DINOHead;
  readonly projHeadT: DINOHead;
  readonly decoder: ASPP;
  readonly classifier: Classifier1x1;
  readonly auxClassifier: Classifier1x1;
  /** Where the teacher's EMA reads a student weight: its f32 master under mixed precision, else the weight. */
  masterOf: ((param: Tensor) => Tensor | undefined) | null = null;

  constructor(config: TocoNetworkConfig) {
    super();
    const g = config.generator;
    if (!Number.isInteger(config.numClasses) || config.numClasses < 2) throw new TensorError('TocoNetwork', `numClasses (with background) must be >= 2, got ${config.numClasses}`);
    this.numClasses = config.numClasses;
    this.momentum = config.momentum ?? TOCO_HEAD_MOMENTUM;
    this.encoder = this.registerModule('encoder', new VisionTransformer(config.backbone, g));
    const D = this.encoder.embedDim;
    const head = () =>
      new DINOHead(D, { hiddenDim: config.projHidden ?? 2048, bottleneckDim: config.projBottleneck ?? 256, outDim: config.projOut ?? 1024, lastLayer: true, generator: g });
    this.projHead = this.registerModule('proj_head', head());
    this.projHeadT = this.registerModule('proj_head_t', head());
    this.syncTeachers();
    this.decoder = this.registerModule('decoder', new ASPP(D, this.numClasses, config.asppRates ?? ASPP_RATES, g));
    this.classifier = this.registerModule('classifier', new Classifier1x1(D, this.numClasses - 1, g));
    this.auxClassifier = this.registerModule('aux_classifier', new Classifier1x1(D, this.numClasses - 1, g));
  }

  forward(x: Tensor): HeadOutputs {
    return camSegForward(this, x);
  }

  camOnly(x: Tensor): { cam: Tensor; camAux: Tensor } {
    return camSegCamOnly(this, x);
  }

  /** proj_head_t ← proj_head, frozen (ToCo's init copy). */
  syncTeachers(): void {
    copyToTeacher(this.projHeadT, this.projHead);
  }

  /** _EMA_update_encoder_teacher: proj_head_t ← m·proj_head_t + (1−m)·proj_head (ToCo's only teacher). */
  emaUpdateProjHead(m = this.momentum): void {
    emaToTeacher(this.projHeadT, this.projHead, m, this.masterOf);
  }

  /** What the optimizer trains: all but the teacher head. */
  studentModules(): nn.AnyModule[] {
    return [this.encoder, this.projHead, this.decoder, this.classifier, this.auxClassifier];
  }

  /** ToCo's get_param_groups: encoder, encoder norms, [classifiers, proj_head], decoder. */
  paramGroups(lr = 6e-5, weightDecay = 0.01, headLrMult = 10): ParamGroupSpec<AdamWHyper>[] {
    return projectedParamGroups(this, lr, weightDecay, headLrMult);
  }

  /** Nothing lives on the host: the state dict is the whole state. */
  afterStateLoad(): Promise<void> {
    return Promise.resolve();
  }
}
