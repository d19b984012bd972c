import * as T from '@seco/tensor';
import { SecoNetwork } from '../../src/seco/network.ts';
import type { SharedStepOptions } from '../../src/train/method.ts';
import type { ViTConfig } from '../../src/vit.ts';
import type { SecoBatch, SecoStepOptions, SecoStepPoint } from '../../src/seco/train/options.ts';
import type { SecoTrainContext } from '../../src/seco/train/step.ts';

// Tiny sizes: 32-px crops, 8-px patches (4×4 tokens), 2 local crops of 16 px, batch 2 → 8 keys per step.
export const B = 2;
export const S = 32;
export const C = 3;
/** The settings every method's tiny step shares: CAMs, thresholds, PAR, the energy loss and the local crops. */
export const SHARED_OPTIONS: SharedStepOptions & { cropNum: number; localCropSize: number } = {
  camScales: [1, 0.5],
  bkgThre: 0.5,
  highThre: 0.7,
  lowThre: 0.25,
  cropNum: 2,
  localCropSize: 16,
  energy: { weight: 1e-7, sigmaRgb: 15, sigmaXy: 100, scaleFactor: 0.5 },
  par: { dilations: [1, 2], iterations: 3 },
};
export const OPTIONS: SecoStepOptions = { ...SHARED_OPTIONS, tagThreshold: 0.2, protoM: 0.9, tempLil: 0.08, tempLig: 0.1 };
/** The tiny backbone every method's tiny network uses. */
export const TINY_BACKBONE: Partial<ViTConfig> = { imgSize: S, patchSize: 8, embedDim: 32, depth: 2, numHeads: 2, auxLayer: -1, numClasses: 0 };
export const ALL_ON: SecoStepPoint = {
  weights: { cls: 1, cls_aux: 1, ptc: 0.3, lil: 0.5, lig: 0.5, seg: 0.12, reg: 0.05 },
  roiSource: 'aux',
  segSource: 'final',
  updatePrototypes: true,
};

export function tinyNet(): SecoNetwork {
  return new SecoNetwork({
    numClasses: C + 1,
    backbone: TINY_BACKBONE,
    projDim: 32, // prototypes live in cls-token space (§3.5.2), so projDim = embedDim as in SeCo
    projHidden: 32,
    queueSize: 16,
    generator: new T.Generator(1),
  });
}

/** A seeded batch: a bright square on a dark field, class 1 in image 0 and classes 1+3 in image 1. */
export function batch(seed: number): SecoBatch {
  const n = B * 3 * S * S;
  // A deterministic hash noise in [−0.5, 0.5).
  const images = Float32Array.from({ length: n }, (_, i) => (((Math.sin(i * 12.9898 + seed * 78.233) * 43758.5453) % 1) + 1) % 1 - 0.5);
  for (let b = 0; b < B; b++) for (let c = 0; c < 3; c++) for (let y = 8; y < 20; y++) for (let x = 6; x < 22; x++) images[((b * 3 + c) * S + y) * S + x] += 2;
  return {
    size: B,
    cropSize: S,
    images,
    strong: images.map((v) => v * 0.8),
    global2: images.map((v, i) => images[n - 1 - i] * 0.9 + v * 0.1),
    imgBox: Int32Array.from([0, S, 0, S, 2, S, 0, 30]),
    clsLabels: Float32Array.from([1, 0, 0, 1, 0, 1]),
    labelIdx: Int32Array.from([1, -1]),
  };
}

export function makeCtx(): SecoTrainContext {
  const net = tinyNet();
  return { net, optimizer: new T.AdamW(net.paramGroups(1e-3, 0.01), { lr: 1e-3, weightDecay: 0.01 }), options: OPTIONS };
}

