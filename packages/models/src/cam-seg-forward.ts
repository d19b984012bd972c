// The forward that ToCo designed and SeCo kept (docs/ALGORITHM.md §2.2, §2.3): ViT tokens as maps, cls / cls_aux
// from global max pooling, seg from the decoder, and the cam_only path. Shared by every method's network.
import { type Generator, noGrad, reshape, scope, type Tensor, transpose } from '@seco/tensor';
import type { ASPP } from './heads/aspp.ts';
import type { Classifier1x1 } from './heads/classifier.ts';
import { widen } from './precision.ts';
import type { VisionTransformer, ViTConfig } from './vit.ts';

/** What every method's network config holds for the shared student parts. */
export interface StudentNetworkConfig {
  /** Classes including background, as the originals' num_classes (VOC 21, COCO 81): classifiers get numClasses − 1. */
  numClasses: number;
  backbone?: Partial<ViTConfig>;
  asppRates?: readonly number[];
  generator?: Generator;
}

/** The student parts both methods share: encoder, the two classifiers and the seg decoder. */
export interface CamSegParts {
  readonly encoder: VisionTransformer;
  readonly classifier: Classifier1x1;
  readonly auxClassifier: Classifier1x1;
  readonly decoder: ASPP;
}

export interface HeadOutputs {
  /** (B, C−1) classifier(GMP(x4)). */
  cls: Tensor;
  /** (B, C−1) aux_classifier(GMP(xAux)). */
  clsAux: Tensor;
  /** (B, C, h, w) decoder(x4). */
  seg: Tensor;
  /** (B, D, h, w) final-LN patch tokens as a map (_x4). */
  x4: Tensor;
  /** (B, D, h, w) aux tokens as a map (_x_aux). */
  xAux: Tensor;
  /** (B, D) final-LN cls token. */
  clsToken: Tensor;
}

/** (B, N, D) tokens → (B, D, h, w), the originals' to_2D. */
export function tokensToMap(t: Tensor, h: number, w: number): Tensor {
  const [B, , D] = t.shape;
  return reshape(transpose(t, 1, 2), [B, D, h, w]);
}

/**
 * Tokens → maps, cls / cls_aux from GMP, seg from the decoder (step 1 of §3.5). The heads run in the weights'
 * dtype; every output leaves in f32 (an f16 student's outputs are widened here, where the losses begin).
 */
export function camSegForward(p: CamSegParts, x: Tensor): HeadOutputs {
  const f = p.encoder.forwardFeatures(x);
  const [h, w] = f.grid;
  return scope(() => {
    const x4 = tokensToMap(f.patchTokens, h, w);
    const xAux = tokensToMap(f.auxTokens, h, w);
    f.patchTokens.dispose();
    f.auxTokens.dispose();
    const clsToken = widen(f.cls);
    if (clsToken !== f.cls) f.cls.dispose(); // made outside this scope; the widened copy replaces it
    const heads = { cls: p.classifier.forward(x4), clsAux: p.auxClassifier.forward(xAux), seg: p.decoder.forward(x4) };
    return { cls: widen(heads.cls), clsAux: widen(heads.clsAux), seg: widen(heads.seg), x4: widen(x4), xAux: widen(xAux), clsToken };
  });
}

/** cam_only: conv1x1 of the token maps with the classifier weights, no ReLU, no grad. */
export function camSegCamOnly(p: CamSegParts, x: Tensor): { cam: Tensor; camAux: Tensor } {
  return noGrad(() => {
    const f = p.encoder.forwardFeatures(x);
    const [h, w] = f.grid;
    return scope(() => {
      f.cls.dispose();
      // CAMs leave in f32: their normalisation, thresholds and PAR are numerically sensitive.
      return { cam: widen(p.classifier.cam(tokensToMap(f.patchTokens, h, w))), camAux: widen(p.auxClassifier.cam(tokensToMap(f.auxTokens, h, w))) };
    });
  });
}
