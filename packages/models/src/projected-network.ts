// What SeCo's and ToCo's networks share around their own parts: the class count, the shared heads' forward and CAM
// path, the param groups, the student modules, and where their teachers' EMAs read a student weight. Each subclass
// registers its modules itself, in its own order: that order fixes the checkpoint's key order and the seeded init.
import { type AdamWHyper, type Generator, nn, type ParamGroupSpec, type Tensor, TensorError } from '@seco/tensor';
import { camSegCamOnly, camSegForward, type HeadOutputs } from './cam-seg-forward.ts';
import { ASPP, ASPP_RATES } from './heads/aspp.ts';
import { Classifier1x1 } from './heads/classifier.ts';
import type { DINOHead } from './heads/dino-head.ts';
import { projectedParamGroups } from './train/param-groups.ts';
import type { VisionTransformer } from './vit.ts';

export abstract class ProjectedNetwork extends nn.Module<[Tensor], HeadOutputs> {
  readonly numClasses: number;
  abstract readonly encoder: VisionTransformer;
  abstract readonly projHead: DINOHead;
  abstract readonly decoder: ASPP;
  abstract readonly classifier: Classifier1x1;
  abstract readonly auxClassifier: Classifier1x1;
  /**
   * Where the teachers' EMAs read a student weight: under mixed precision its optimizer's f32 master (the f16
   * parameter is only its rounding); null reads the parameters themselves.
   */
  masterOf: ((param: Tensor) => Tensor | undefined) | null = null;

  /** `owner` names the network in the error for a class count (background included) below 2. */
  constructor(owner: string, numClasses: number) {
    super();
    if (!Number.isInteger(numClasses) || numClasses < 2) throw new TensorError(owner, `numClasses (with background) must be >= 2, got ${numClasses}`);
    this.numClasses = numClasses;
  }

  /**
   * Registers, in this order, proj_head and proj_head_t (two draws of `head`), decoder, classifier and
   * aux_classifier over an encoder of width `dim`, after the subclass's encoders. The subclass keeps them in its
   * fields and then copies its teachers (no draw, so the seeded init is as if copied in between).
   */
  protected registerHeads(dim: number, head: () => DINOHead, asppRates: readonly number[] | undefined, g: Generator | undefined) {
    return {
      projHead: this.registerModule('proj_head', head()),
      projHeadT: this.registerModule('proj_head_t', head()),
      decoder: this.registerModule('decoder', new ASPP(dim, this.numClasses, asppRates ?? ASPP_RATES, g)),
      classifier: this.registerModule('classifier', new Classifier1x1(dim, this.numClasses - 1, g)),
      auxClassifier: this.registerModule('aux_classifier', new Classifier1x1(dim, this.numClasses - 1, g)),
    };
  }

  /** Tokens → maps, cls / cls_aux from GMP, seg from ASPP (cam-seg-forward.ts); every output leaves in f32. */
  forward(x: Tensor): HeadOutputs {
    return camSegForward(this, x);
  }

  /** The cam_only path: conv1x1 of the token maps with the classifier weights, no ReLU, no grad. */
  camOnly(x: Tensor): { cam: Tensor; camAux: Tensor } {
    return camSegCamOnly(this, x);
  }

  /**
   * get_param_groups with the train scripts' lrs: encoder (no "norm"), encoder norms at lr; heads and decoder at
   * lr × headLrMult (10 in both). An lr schedule scales these initial lrs; nothing else sets them.
   */
  paramGroups(lr = 6e-5, weightDecay = 0.01, headLrMult = 10): ParamGroupSpec<AdamWHyper>[] {
    return projectedParamGroups(this, lr, weightDecay, headLrMult);
  }

  /** What the optimizer trains (f16 under mixed precision): all but the teachers. */
  studentModules(): nn.AnyModule[] {
    return [this.encoder, this.projHead, this.decoder, this.classifier, this.auxClassifier];
  }
}
