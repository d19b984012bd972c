// What a WSSS method plugs into the shared training (docs/ARCHITECTURE.md, "Methods"): ToCo and SeCo share the
// backbone, the cls / aux / seg heads, the multi-scale CAM, the pseudo labels, PAR, the cls / PTC / seg / energy
// losses and the optimizer; each brings its network, its step, its schedule point and its loss terms.
import type { AdamW, AdamWHyper, Generator, GradScaler, NonFiniteWatch, nn, ParamGroupSpec, Tensor } from '@seco/tensor';
import type { CamSegParts, HeadOutputs } from '../cam-seg-forward.ts';
import type { InferenceConfig } from '../inference/config.ts';
import type { EnergyLossOptions } from '../losses/energy.ts';
import type { CamModel } from '../multiscale-cam.ts';
import type { ParOptions } from '../par.ts';

/** One training batch on the host, as the data loader yields it (all (B, 3, S, S) ImageNet-normalised). */
export interface TrainBatch {
  size: number;
  cropSize: number;
  /** image = raw_image. */
  images: Float32Array;
  /** s_image: the strong local view of the same crop. */
  strong: Float32Array;
  /** w_image: the second global view. */
  global2: Float32Array;
  /** (B, 4) [row0, row1, col0, col1] of the valid image inside the crop. */
  imgBox: Int32Array;
  /** (B, C) multi-hot foreground labels. */
  clsLabels: Float32Array;
  /** (B) 1-based class of single-label images, −1 otherwise. */
  labelIdx: Int32Array;
}

/** The step settings every method reads: training CAMs, their thresholds, PAR and the energy loss. */
export interface SharedStepOptions {
  camScales: readonly number[];
  bkgThre: number;
  highThre: number;
  lowThre: number;
  energy: EnergyLossOptions;
  par?: ParOptions;
  /** PAR runs at 1/parDownScale of the crop (2 in both originals). */
  parDownScale?: number;
}

/** One iteration's schedule: at least each loss term's weight (0: the term is skipped and logged as 0). */
export interface StepPoint<Term extends string = string> {
  weights: Record<Term, number>;
}

/** A method's network: the shared student heads plus whatever the method adds (teachers, queues, heads). */
export interface WsssNetwork extends nn.Module<[Tensor], HeadOutputs>, CamModel, CamSegParts {
  readonly numClasses: number;
  /** The optimizer groups [encoder, encoder norms, heads, decoder] at their initial lrs. */
  paramGroups(lr?: number, weightDecay?: number, headLrMult?: number): ParamGroupSpec<AdamWHyper>[];
  /** Re-copies the frozen teachers from their students (after pretrained weights went into the encoder). */
  syncTeachers(): void;
  /** Brings host-side mirrors of buffers in line after a state dict was loaded (a resumed run). */
  afterStateLoad(): Promise<void>;
  /** The modules the optimizer trains (f16 under mixed precision); the teachers are not among them. */
  studentModules(): nn.AnyModule[];
  /** Under mixed precision, the f32 master of a student parameter, which the teachers' EMAs read. */
  masterOf: ((param: Tensor) => Tensor | undefined) | null;
}

/** Data parallelism as a step sees it: every parameter's gradient averaged over the ranks, after backward. */
export interface GradientAverager {
  reduceGradients(): Promise<void>;
}

export interface TrainStepContext<Net, Options> {
  net: Net;
  /** PolyWarmupAdamW over net.paramGroups(): its schedule sets every group's lr before each step. */
  optimizer: AdamW;
  options: Options;
  /** Divergence watch: each loss term (its index in the method's lossTerms) and the total (index lossTerms.length). */
  watch?: { watch: NonFiniteWatch; step: number };
  /** Under mpirun: the gradients are averaged over the ranks between backward and the optimizer step. */
  parallel?: GradientAverager;
  /** Mixed precision (toMixedPrecision): the loss is scaled before backward, an overflowing step skipped. */
  scaler?: GradScaler;
}

/** A WSSS method as the shared trainer, checkpoints and inference see it. */
export interface WsssMethod<Net extends WsssNetwork, Term extends string, Point extends StepPoint<Term>, Options> {
  readonly name: string;
  /** The loss terms in the order they are summed and logged. */
  readonly lossTerms: readonly Term[];
  /** The tag its training checkpoints carry (CHECKPOINT_FORMAT_KEY in the safetensors metadata). */
  readonly checkpointFormat: string;
  /** The network of a run's config (structure only; seeded by `generator` when given). */
  createNetwork(config: InferenceConfig, generator?: Generator): Net;
  /** One training iteration; the unweighted loss terms when `read` (one readback), else null. */
  step(ctx: TrainStepContext<Net, Options>, batch: TrainBatch, point: Point, read: boolean): Promise<Record<Term, number> | null>;
}
