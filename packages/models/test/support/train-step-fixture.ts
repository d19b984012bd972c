// The layout of train_step/train_step.json (fixtures README §3.8) and small helpers shared by its tests.
import type { TensorRecord } from '@seco/tensor';
import type { FixtureTensor } from '../../../../test/support/fixtures.ts';
import type { SecoLossTerm } from '../../src/seco/train/options.ts';

export interface StepIteration {
  n_iter: number;
  optimizer_global_step_before_step: number;
  lr_per_group: number[];
  roi_mask_source: 'cams_aux' | 'cams';
  prototypes_updated_in_forward: boolean;
  losses: Record<string, FixtureTensor>;
  loss_weights: Record<string, number>;
  total_loss: FixtureTensor;
  tags: Record<'image_flags' | 'local_flags' | 'cls_flags_local_before_lil' | 'cls_flags_local_revised_by_lil' | 'crop_corners_h0w0', FixtureTensor>;
  roi_mask: FixtureTensor;
  refined_pseudo_label: FixtureTensor;
  queue_ptr_after: number;
}

export interface StepFixture {
  meta: {
    model: {
      embed_dim: number; depth: number; num_heads: number; patch_size: number; img_size: number; mlp_ratio: number; ln_eps: number;
      aux_layer: number; vit_num_classes: number; num_classes: number; num_fg_classes: number; ctc_dim: number; moco_queue: number;
      dino_head: { in_dim: number; hidden_dim: number; bottleneck_dim: number; out_dim_last_layer_unused: number };
    };
    args: Record<string, number> & { cam_scales: number[] };
    optimizer: {
      groups: { index: number; base_lr: number }[];
      group_param_names: string[][];
      weight_decay: number; betas: [number, number]; eps: number;
      warmup_iter: number; max_iter: number; warmup_ratio: number; power: number; global_step_at_start: number;
    };
    released_format: { file: string; num_keys: number };
  };
  iterations: StepIteration[];
}

/** fixtures README §3.8: step-1 losses rtol 1e-4; later steps and final parameters rtol 1e-3, atol 1e-5. */
export const STEP_TOL = { firstLosses: { rtol: 1e-4, atol: 0 }, later: { rtol: 1e-3, atol: 1e-5 } };

/** The original's loss names (cls_loss, cls_loss_aux, ptc_loss, …) as ours (cls, cls_aux, ptc, …). */
export function lossTerm(name: string): SecoLossTerm {
  const t = name.replace('_loss', '');
  const terms = ['cls', 'cls_aux', 'ptc', 'lil', 'lig', 'seg', 'reg'];
  if (!terms.includes(t)) throw new Error(`train_step.json: unknown loss ${name}`);
  return t as SecoLossTerm;
}

/** The entries under `prefix` (stripped) that pass `keep`. */
export function pickPrefix(r: TensorRecord, prefix: string, keep: (k: string) => boolean = () => true): TensorRecord {
  const out: TensorRecord = {};
  for (const [k, v] of Object.entries(r)) if (k.startsWith(prefix) && keep(k)) out[k.slice(prefix.length)] = v;
  return out;
}
