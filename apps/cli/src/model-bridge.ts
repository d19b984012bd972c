// Every call into @seco/models lives here, so the CLI works against whatever the models package exports today
// and names what is missing. The package is imported dynamically and checked export by export: the CLI
// type-checks and its other commands run while the network is still being written.
import {
  add,
  argmax,
  concat,
  flip,
  interpolate,
  keep,
  loadCheckpoint,
  maximum,
  narrow,
  noGrad,
  readPthStateDict,
  readSafetensors,
  scope,
  softmax,
  type Tensor,
  tensor,
  type TensorRecord,
} from '@seco/tensor';
import { IMAGENET_MEAN, IMAGENET_STD, normalizeCHW, resizeBilinearTorchCHW } from '@seco/data';
import type { SecoConfig } from './config/schema.ts';
import type { HeatMap, LabelMap, RgbImage } from './eval/pictures.ts';
import type { Trainer } from './train-loop.ts';

export class ModelUnavailableError extends Error {
  override name = 'ModelUnavailableError';
}

/** What each command needs from @seco/models. */
export const NEEDS = {
  eval: ['SecoNetwork'],
  infer: ['SecoNetwork'],
  cam: ['SecoNetwork', 'multiScaleCam', 'camToLabel'],
  // The per-iteration step of SECO_SPEC §3 (pseudo labels, tags, crops, every loss, EMA, enqueue) as one call.
  train: ['SecoNetwork', 'secoTrainStep'],
} as const;
export type Need = keyof typeof NEEDS;

type ModelsModule = Record<string, unknown>;

export async function modelsModule(): Promise<ModelsModule> {
  return (await import('@seco/models')) as ModelsModule;
}

export function missingExports(mod: ModelsModule, need: Need): string[] {
  return NEEDS[need].filter((n) => mod[n] === undefined);
}

/** Throws naming the missing exports and where the wiring goes. */
export async function requireModels(need: Need): Promise<ModelsModule> {
  const mod = await modelsModule();
  const missing = missingExports(mod, need);
  if (missing.length > 0) {
    throw new ModelUnavailableError(
      `seco ${need} needs ${missing.join(', ')} from @seco/models, which does not export ${missing.length === 1 ? 'it' : 'them'} yet ` +
        `(the call is wired in apps/cli/src/model-bridge.ts)`,
    );
  }
  return mod;
}

/** The structural part of SecoNetwork the CLI uses. */
interface NetworkLike {
  forward(x: Tensor): { seg: Tensor };
  camOnly(x: Tensor): { cam: Tensor; camAux: Tensor };
  loadStateDict(record: TensorRecord, options?: { strict?: boolean }): unknown;
  dispose(): void;
}
type NetworkCtor = new (config: Record<string, unknown>) => NetworkLike;

export function networkConfig(config: SecoConfig): Record<string, unknown> {
  const m = config.model;
  return {
    numClasses: config.data.num_classes + 1,
    backbone: {
      imgSize: config.train.crop_size,
      patchSize: m.patch_size,
      embedDim: m.embed_dim,
      depth: m.depth,
      numHeads: m.num_heads,
      mlpRatio: m.mlp_ratio,
      auxLayer: m.aux_layer,
      numClasses: 0,
    },
    projDim: m.proj_out_dim,
    projHidden: m.proj_hidden_dim,
    queueSize: config.seco.queue_size,
    momentum: config.seco.momentum,
  };
}

/**
 * Network weights from a file: a `seco train` checkpoint (tensors under `model.`), or a bare state_dict as
 * .safetensors or .pth (e.g. a released SeCo checkpoint).
 */
export async function readNetworkWeights(file: string): Promise<TensorRecord> {
  if (file.endsWith('.pth') || file.endsWith('.pt')) return readPthStateDict(file);
  const { metadata, tensors } = await readSafetensors(file);
  if (metadata.checkpoint_format === undefined) return tensors;
  const ck = await loadCheckpoint(file); // validates the checkpoint metadata
  const out: TensorRecord = {};
  for (const [k, v] of Object.entries(ck.tensors)) if (k.startsWith('model.')) out[k.slice('model.'.length)] = v;
  if (Object.keys(out).length === 0) throw new Error(`${file}: a seco checkpoint without model.* tensors`);
  return out;
}

/** Normalised (1, 3, S, S) input, resized as SeCo's evaluation does (bilinear, aspect ignored). */
function inputTensor(image: RgbImage, size: number): Tensor {
  const x = resizeBilinearTorchCHW(image, size, size);
  normalizeCHW(x, IMAGENET_MEAN, IMAGENET_STD);
  return tensor(x, [1, 3, size, size]);
}

export interface SegModel {
  /** §5 final inference: scales × flip, logits summed over flips, max over scales, argmax (CRF if configured). */
  segment(image: RgbImage): Promise<{ pred: LabelMap }>;
  /** §5 CAM seeds: multi_scale_cam2 then cam_to_label with the image's labels; also the CAM as a heat map. */
  camSeeds(image: RgbImage, labels: readonly number[], scales: readonly number[]): Promise<{ pred: LabelMap; cam: HeatMap }>;
  dispose(): void;
}

export async function loadSegModel(config: SecoConfig, weightsFile: string, need: Need): Promise<SegModel> {
  const mod = await requireModels(need);
  const Network = mod.SecoNetwork as NetworkCtor;
  const net = new Network(networkConfig(config));
  try {
    net.loadStateDict(await readNetworkWeights(weightsFile), { strict: true });
  } catch (e) {
    net.dispose();
    throw new Error(`${weightsFile}: does not fit the config's model (${(e as Error).message})`, { cause: e });
  }
  return makeSegModel(net, config, mod);
}

/** A randomly initialised network (tests, and `seco eval` smoke runs without a checkpoint). */
export async function randomSegModel(config: SecoConfig, need: Need): Promise<SegModel> {
  const mod = await requireModels(need);
  return makeSegModel(new (mod.SecoNetwork as NetworkCtor)(networkConfig(config)), config, mod);
}

function makeSegModel(net: NetworkLike, config: SecoConfig, mod: ModelsModule): SegModel {
  const size = config.eval.size;
  const numClasses = config.data.num_classes + 1;
  return {
    async segment(image) {
      const [H, W] = [image.height, image.width];
      const scores = noGrad(() =>
        scope(() => {
          const x = inputTensor(image, size);
          let acc: Tensor | null = null;
          for (const s of config.eval.scales) {
            const xs = s === 1 ? x : interpolate(x, { size: [Math.trunc(s * size), Math.trunc(s * size)], mode: 'bilinear', alignCorners: false });
            const input = config.eval.flip ? concat([xs, flip(xs, 3)], 0) : xs;
            const up = interpolate(net.forward(input).seg, { size: [H, W], mode: 'bilinear', alignCorners: false });
            const fused = config.eval.flip ? add(narrow(up, 0, 0, 1), flip(narrow(up, 0, 1, 1), 3)) : up;
            acc = acc ? maximum(acc, fused) : fused;
          }
          return keep(config.eval.crf ? softmax(acc!, 1) : argmax(acc!, 1));
        }),
      );
      try {
        const data = await scores.data();
        if (!config.eval.crf) return { pred: { width: W, height: H, data: Uint8Array.from(data) } };
        const denseCrf = mod.denseCrf as (img: Uint8Array, p: Float32Array, c: number, h: number, w: number) => { labels: Uint8Array };
        return { pred: { width: W, height: H, data: denseCrf(image.data, data as Float32Array, numClasses, H, W).labels } };
      } finally {
        scores.dispose();
      }
    },

    async camSeeds(image, labels, scales) {
      const [H, W] = [image.height, image.width];
      const multiScaleCam = mod.multiScaleCam as (m: NetworkLike, x: Tensor, s: readonly number[]) => { cam: Tensor; camAux: Tensor };
      const camToLabel = mod.camToLabel as (cam: Tensor, cls: Tensor, o: { bkgThre: number }) => Tensor;
      const onehot = new Float32Array(config.data.num_classes);
      for (const l of labels) onehot[l] = 1;
      const [cam, label] = noGrad(() =>
        scope(() => {
          const { cam: c } = multiScaleCam(net, inputTensor(image, size), scales);
          const up = interpolate(c, { size: [H, W], mode: 'bilinear', alignCorners: false });
          return [keep(up), keep(camToLabel(up, tensor(onehot, [1, config.data.num_classes]), { bkgThre: config.cam.bkg_thre }))];
        }),
      );
      try {
        const [camData, labelData] = await Promise.all([cam.data(), label.data()]);
        // The heat map shows the strongest present class at each pixel.
        const heat = new Float32Array(H * W);
        for (const l of labels) for (let i = 0; i < H * W; i++) heat[i] = Math.max(heat[i], camData[l * H * W + i]);
        return { pred: { width: W, height: H, data: Uint8Array.from(labelData) }, cam: { width: W, height: H, data: heat } };
      } finally {
        cam.dispose();
        label.dispose();
      }
    },

    dispose: () => net.dispose(),
  };
}

/** The SeCo trainer (apps/cli/src/trainer): network, optimizer, loader and TrainState built from the config. */
export async function createTrainer(config: SecoConfig): Promise<Trainer> {
  await requireModels('train');
  const { createSecoTrainer } = await import('./trainer/seco-trainer.ts');
  return createSecoTrainer(config);
}
