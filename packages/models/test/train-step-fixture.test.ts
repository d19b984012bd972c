// Three consecutive iterations of SeCo's own training loop (train_step/, fixtures README §3.8) against ours:
// the network, batch, switches and optimizer come from the files; every number is compared, nothing is assumed.
import * as T from '@seco/tensor';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { SecoNetwork } from '../src/seco/network.ts';
import { SECO_LOSS_TERMS, type SecoBatch, type SecoLossTerm, type SecoStepOptions, type SecoStepPoint } from '../src/seco/train/options.ts';
import { secoTrainStep, type SecoStepProbe } from '../src/seco/train/step.ts';
import type { CscTagPlan } from '../src/seco/tags.ts';
import { readStateDict } from '../src/vit.ts';
import { expectClose, type FixtureTensor, fixturesDir, loadJson, type Tolerance } from '../../../test/support/fixtures.ts';
import { type StepFixture, STEP_TOL as tol, lossTerm, pickPrefix } from './support/train-step-fixture.ts';

const DIR = `${fixturesDir}train_step/`;
const fx = loadJson<StepFixture>('train_step/train_step.json');
const { model, args, optimizer: opt } = fx.meta;

let init: T.TensorRecord;
let final: T.TensorRecord;
let trace: T.TensorRecord;
/** Per parameter, the elements whose reference gradient is rounding noise at every step (see noiseElements). */
let noise: Map<string, { group: number; idx: Set<number> }>;
beforeAll(async () => {
  await T.init();
  init = await readStateDict(`${DIR}train_step_init.safetensors`);
  final = await readStateDict(`${DIR}train_step_final.safetensors`);
  trace = await readStateDict(`${DIR}train_step_trace.safetensors`);
  noise = noiseElements();
});

/** A gradient element below this share of its tensor's largest is float32 rounding noise. */
const NOISE = 1e-6;
const maxAbs = (a: ArrayLike<number>) => Array.from(a).reduce((m, v) => Math.max(m, Math.abs(v)), 0);

/**
 * Elements whose gradient is noise at every traced step: the key bias of attention, whose exact gradient is 0
 * (a per-query constant added to every logit cancels in the softmax); float32 leaves ~1e-8 of rounding.
 */
function noiseElements(): Map<string, { group: number; idx: Set<number> }> {
  const out = new Map<string, { group: number; idx: Set<number> }>();
  opt.group_param_names.forEach((names, group) => {
    for (const name of names) {
      const grads = fx.iterations.map((_, i) => trace[`iter${i}.grad.${name}`]).filter((g) => g !== undefined);
      if (grads.length !== fx.iterations.length) continue;
      const floor = grads.map((g) => NOISE * maxAbs(g.data));
      const idx = new Set<number>();
      // Exact zeros (e.g. dilated taps that only see padding) are no noise: they are compared as usual.
      const isNoise = (j: number) => grads.every((g, i) => Math.abs(g.data[j]) <= floor[i]) && grads.some((g) => g.data[j] !== 0);
      for (let j = 0; j < grads[0].data.length; j++) if (isNoise(j)) idx.add(j);
      if (idx.size > 0) out.set(name, { group, idx });
    }
  });
  return out;
}

/**
 * The most one element of `group` can move in the traced steps from a fresh AdamW state, whatever its
 * gradients: |m̂/√v̂| ≤ √(Σ a_s²/b_s)·√(1−β2^t)/(1−β1^t) with a_s = (1−β1)β1^(t−s), b_s = (1−β2)β2^(t−s)
 * (Cauchy–Schwarz), plus the decoupled decay.
 */
function adamBound(group: number, p0: number): number {
  const [b1, b2] = opt.betas;
  let total = 0;
  fx.iterations.forEach((it, k) => {
    const t = k + 1;
    let s2 = 0;
    for (let s = 1; s <= t; s++) s2 += ((1 - b1) * b1 ** (t - s)) ** 2 / ((1 - b2) * b2 ** (t - s));
    const ratio = (Math.sqrt(s2) * Math.sqrt(1 - b2 ** t)) / (1 - b1 ** t);
    total += it.lr_per_group[group] * (ratio + opt.weight_decay * (p0 + 1));
  });
  return total;
}
afterAll(() => T.setLeakTracking(false));

function network(): SecoNetwork {
  const d = model.dino_head;
  if (d.in_dim !== model.embed_dim || d.bottleneck_dim !== model.ctc_dim) throw new Error(`train_step.json: dino_head ${JSON.stringify(d)} does not fit embed_dim/ctc_dim`);
  return new SecoNetwork({
    numClasses: model.num_classes,
    backbone: {
      imgSize: model.img_size,
      patchSize: model.patch_size,
      embedDim: model.embed_dim,
      depth: model.depth,
      numHeads: model.num_heads,
      mlpRatio: model.mlp_ratio,
      auxLayer: model.aux_layer,
      numClasses: model.vit_num_classes,
      eps: model.ln_eps,
    },
    projDim: model.ctc_dim,
    projHidden: d.hidden_dim,
    projLastDim: d.out_dim_last_layer_unused,
    queueSize: model.moco_queue,
    momentum: args.momentum,
  });
}

function batch(): SecoBatch {
  const get = (k: string) => {
    const t = init[`input.${k}`];
    if (!t) throw new Error(`train_step_init.safetensors: no input.${k}`);
    return t;
  };
  const images = get('inputs');
  const [B, , H, W] = images.shape;
  if (H !== W) throw new Error(`train_step_init.safetensors: input.inputs is ${images.shape}, the step takes square crops`);
  return {
    size: B,
    cropSize: H,
    images: Float32Array.from(images.data),
    strong: Float32Array.from(get('s_image').data),
    global2: Float32Array.from(get('w_image').data),
    imgBox: Int32Array.from(get('img_box').data),
    clsLabels: Float32Array.from(get('cls_label').data),
    labelIdx: Int32Array.from(get('label_idx').data),
  };
}

const options: SecoStepOptions = {
  camScales: args.cam_scales,
  bkgThre: args.bkg_thre,
  highThre: args.high_thre,
  lowThre: args.low_thre,
  cropNum: args.ncrops - 2,
  localCropSize: args.local_crop_size,
  tagThreshold: args.tag_threshold,
  protoM: args.proto_m,
  tempLil: args.temp_lil,
  tempLig: args.temp_lig,
  // DenseEnergyLoss and PAR take SeCo's constants (train_voc.py hard-codes them; the library's defaults).
  energy: {},
};

function point(n: number, weights: Record<string, number>): SecoStepPoint {
  const w = {} as Record<SecoLossTerm, number>;
  for (const [k, v] of Object.entries(weights)) w[lossTerm(k)] = v;
  return { weights: w, roiSource: n < args.cam2mask ? 'aux' : 'final', segSource: 'final', updatePrototypes: n >= args.update_prototype };
}

const exact = (got: ArrayLike<number>, want: FixtureTensor, label: string) => expectClose(got, want.data, { rtol: 0, atol: 0 }, label);

interface Seen {
  roi?: ArrayLike<number>;
  tags?: CscTagPlan;
  segLabel?: ArrayLike<number>;
  flags?: ArrayLike<number>;
  total?: number;
}

/** Every gradient before the optimizer step against the trace (the place a departure shows first). */
async function compareGrads(net: SecoNetwork, step: number): Promise<void> {
  const prefix = `iter${step}.grad.`;
  const want = pickPrefix(trace, prefix);
  const got = net.namedParameters().filter(([, p]) => p.grad);
  expect(got.map(([k]) => k).sort(), `iteration ${step}: parameters with a gradient`).toEqual(Object.keys(want).sort());
  for (const [k, p] of got) {
    const g = Array.from(await p.grad!.data());
    const w = want[k].data;
    const noisy = noise.get(k)?.idx ?? new Set<number>();
    const floor = NOISE * maxAbs(g);
    for (const j of noisy) expect(Math.abs(g[j]), `${prefix}${k}[${j}] is noise in the reference, not here`).toBeLessThanOrEqual(floor);
    const keep = (a: ArrayLike<number>) => Array.from(a).filter((_, j) => !noisy.has(j));
    expectClose(keep(g), keep(w), { rtol: tol.later.rtol, atol: tol.later.rtol * maxAbs(w) }, `${prefix}${k}`);
  }
}

describe('three SeCo training iterations (train_step/) against the original loop', () => {
  test('lrs, tags, ROI mask, pseudo labels, seven losses and total per step; every parameter, buffer and AdamW moment after', async () => {
    const net = network();
    await net.loadWeights(pickPrefix(init, '', (k) => !k.startsWith('input.')));
    const optim = new T.PolyWarmupAdamW(
      net.paramGroups(args.lr, args.wt_decay),
      { lr: args.lr, betas: opt.betas, eps: opt.eps, weightDecay: opt.weight_decay },
      { warmupIter: opt.warmup_iter, maxIter: opt.max_iter, warmupRatio: opt.warmup_ratio, power: opt.power },
      { named: net.namedParameters() },
    );
    optim.globalStep = opt.global_step_at_start;
    // The groups: same members in the same order, same initial lrs.
    expect(optim.groups.map((g) => g.names)).toEqual(opt.group_param_names);
    expect(optim.groups.map((g) => g.initialLr)).toEqual(opt.groups.map((g) => g.base_lr));

    let seen: Seen = {};
    const probe: SecoStepProbe = async (name, v) => {
      if (name === 'roi') seen.roi = await (v as T.Tensor).data();
      else if (name === 'tags') seen.tags = v as CscTagPlan;
      else if (name === 'seg_label') seen.segLabel = await (v as T.Tensor).data();
      else if (name === 'flags_revised') seen.flags = await (v as T.Tensor).data();
      else if (name === 'total') seen.total = await (v as T.Tensor).item();
      else if (name === 'grads') await compareGrads(net, step);
    };
    const ctx = { net, optimizer: optim, options, probe };
    const b = batch();
    let step = 0;
    for (const it of fx.iterations) {
      seen = {};
      const at = `iteration ${it.n_iter}`;
      expect(optim.globalStep, at).toBe(it.optimizer_global_step_before_step);
      const p = point(it.n_iter, it.loss_weights);
      expect(p.roiSource, at).toBe(it.roi_mask_source === 'cams_aux' ? 'aux' : 'final');
      expect(p.updatePrototypes, at).toBe(it.prototypes_updated_in_forward);
      const losses = (await secoTrainStep(ctx, b, p, true))!;
      expect(optim.groups.map((g) => g.lr), `${at}: lr per group`).toEqual(it.lr_per_group);
      // Tags first: a flipped label at a near-tie changes everything after it.
      const { tags } = seen;
      const n = tags!.cropNum;
      exact(tags!.corners, it.tags.crop_corners_h0w0, `${at}: crop corners`);
      const flags = Array.from(tags!.flags);
      const perImage = (i: number) => flags.slice(i * (n + 2), (i + 1) * (n + 2));
      const image = it.tags.image_flags;
      const local = it.tags.local_flags;
      for (let i = 0; i < b.size; i++) {
        const g = image.shape[1];
        expect(perImage(i).slice(0, g), `${at}: image flags of image ${i}`).toEqual(image.data.slice(i * g, (i + 1) * g));
        expect(perImage(i).slice(g), `${at}: local flags of image ${i}`).toEqual(local.data.slice(i * n, (i + 1) * n));
      }
      exact(flags, it.tags.cls_flags_local_before_lil, `${at}: cls_flags_local`);
      exact(seen.flags!, it.tags.cls_flags_local_revised_by_lil, `${at}: flags revised by LIL`);
      exact(seen.roi!, it.roi_mask, `${at}: ROI mask`);
      exact(seen.segLabel!, it.refined_pseudo_label, `${at}: refined pseudo label`);
      const lossTol: Tolerance = it === fx.iterations[0] ? tol.firstLosses : tol.later;
      for (const [k, want] of Object.entries(it.losses)) expectClose([losses[lossTerm(k)]], want.data, lossTol, `${at}: ${k}`);
      expectClose([seen.total!], it.total_loss.data, lossTol, `${at}: total loss`);
      expect(net.queuePtr, `${at}: queue_ptr`).toBe(it.queue_ptr_after);
      step++;
    }
    expect(SECO_LOSS_TERMS.length).toBe(Object.keys(fx.iterations[0].losses).length);

    // After the last step: the whole state_dict, then AdamW's moments and step counts.
    const sd = net.stateDict();
    const want = pickPrefix(final, '', (k) => !k.startsWith('optim.'));
    expect(Object.keys(sd).sort()).toEqual(Object.keys(want).sort());
    for (const [k, w] of Object.entries(want)) {
      expect(sd[k].shape, k).toEqual(w.shape);
      const t = sd[k].dtype === 'f32' ? tol.later : { rtol: 0, atol: 0 };
      const got = await sd[k].data();
      const noisy = noise.get(k);
      if (!noisy) {
        expectClose(got, w.data, t, `final ${k}`);
        continue;
      }
      // Elements whose gradient is rounding noise on both sides: AdamW turns noise into steps of either sign,
      // so only the step-size bound holds (a tighter match would be luck); every other element as usual.
      const [g0, gi] = [init[k].data, Array.from(got)];
      const bound = (i: number) => adamBound(noisy.group, Math.abs(g0[i]));
      for (const i of noisy.idx) {
        expect(Math.abs(gi[i] - g0[i]), `${k}[${i}] ours moved past AdamW's bound`).toBeLessThanOrEqual(bound(i));
        expect(Math.abs(w.data[i] - g0[i]), `${k}[${i}] reference moved past AdamW's bound`).toBeLessThanOrEqual(bound(i));
      }
      const rest = (a: ArrayLike<number>) => Array.from(a).filter((_, i) => !noisy.idx.has(i));
      expectClose(rest(got), rest(w.data), t, `final ${k} (${noisy.idx.size} noise-gradient elements apart)`);
    }
    const state = optim.stateDict({ copy: false });
    const nameOf = state.meta.groups.flatMap((g) => g.names);
    const moments = pickPrefix(final, 'optim.');
    const withState = Object.keys(state.meta.steps).map((i) => nameOf[Number(i)]);
    expect(withState.sort()).toEqual([...new Set(Object.keys(moments).map((k) => k.replace(/\.(exp_avg|exp_avg_sq|step)$/, '')))].sort());
    for (const [i, step] of Object.entries(state.meta.steps)) {
      const name = nameOf[Number(i)];
      expect(step, `${name}.step`).toBe(moments[`${name}.step`].data[0]);
      for (const m of ['exp_avg', 'exp_avg_sq']) {
        const w = moments[`${name}.${m}`];
        // Moments are far below 1 (exp_avg_sq ~ grad²): the parameters' atol is taken relative to their scale.
        const scale = Math.max(...Array.from(w.data, Math.abs));
        expectClose(await state.tensors[`state.${i}.${m}`].data(), w.data, { rtol: tol.later.rtol, atol: tol.later.atol * scale }, `final optim.${name}.${m}`);
      }
    }
    optim.dispose();
    net.dispose();
  }, 600_000);
});
