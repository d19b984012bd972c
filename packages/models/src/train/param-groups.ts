// SeCo's optimizer parameter groups, built on the engine's generic ParamGroupSpec.
import type { AdamWHyper, ParamGroupSpec, ParamRef } from '@seco/tensor';
import type { CamSegParts } from '../cam-seg-forward.ts';

export interface SecoParamSets {
  /** The backbone's named parameters (timm names: `blocks.0.norm1.weight`, …). */
  encoder: Iterable<readonly [string, ParamRef]>;
  /** classifier.weight, aux_classifier.weight and every proj_head parameter. */
  heads: readonly ParamRef[];
  /** The ASPP decoder's parameters. */
  decoder: readonly ParamRef[];
}

/**
 * SeCo's `get_param_groups` with its train-script lrs: [encoder without "norm", encoder norms, heads, decoder]
 * at lr, lr, headLrMult·lr, headLrMult·lr (SeCo: 10), all with the same weight decay. encoder_k and proj_head_t
 * belong to no group. These are the groups' initial lrs, which a schedule scales.
 */
export function secoParamGroups(sets: SecoParamSets, lr = 6e-5, weightDecay = 0.01, headLrMult = 10): ParamGroupSpec<AdamWHyper>[] {
  const plain: ParamRef[] = [];
  const norms: ParamRef[] = [];
  for (const [name, p] of sets.encoder) (name.includes('norm') ? norms : plain).push(p);
  return [
    { params: plain, lr, weightDecay },
    { params: norms, lr, weightDecay },
    { params: [...sets.heads], lr: lr * headLrMult, weightDecay },
    { params: [...sets.decoder], lr: lr * headLrMult, weightDecay },
  ];
}

/**
 * The groups of a network built on the shared parts plus a projection head (SeCo's proj_head, ToCo's CTC head):
 * the encoder, [classifier, aux_classifier, proj_head] as heads, and the decoder.
 */
export function projectedParamGroups(
  net: CamSegParts & { readonly projHead: { parameters(): ParamRef[] } },
  lr = 6e-5,
  weightDecay = 0.01,
  headLrMult = 10,
): ParamGroupSpec<AdamWHyper>[] {
  return secoParamGroups(
    {
      encoder: net.encoder.namedParameters(),
      heads: [net.classifier.weight, net.auxClassifier.weight, ...net.projHead.parameters()],
      decoder: net.decoder.parameters(),
    },
    lr,
    weightDecay,
    headLrMult,
  );
}
