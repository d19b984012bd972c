// One image through the shared inference (decode, check the mask, segment, CAMs, with timings), and a set of
// them into a running confusion matrix. The same calls as `seco eval`, so the same numbers; no DOM here.
import { checkMask, decodeImage, decodeIndexPng, type IndexMap, type RgbImage } from '@seco/data/web';
import { type ClassCams, ConfusionMatrix, type EvalOptions, type SegModel } from '@seco/models';
import type { Sample } from './files.ts';

export interface Timings {
  decode: number;
  segment: number;
  cams: number;
}

export interface ImageResult {
  id: string;
  image: RgbImage;
  gt: IndexMap | null;
  pred: IndexMap;
  cams: ClassCams | null;
  ms: Timings;
}

/** A file that could not be used, and why (the message names the file). */
export interface FileProblem {
  file: string;
  message: string;
}

export interface RunOptions {
  eval: EvalOptions;
  /** Also compute per-class CAMs (multi_scale_cam2 at these scales, each with its flip); null: none. */
  camScales: readonly number[] | null;
}

const now = () => performance.now();
const bytesOf = async (b: Blob) => new Uint8Array(await b.arrayBuffer());
const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e));
/** Our errors start with the file they are about; others get it put in front. */
const naming = (file: string, e: unknown) => {
  const m = messageOf(e);
  return m.startsWith(file) ? m : `${file}: ${m}`;
};

/** Decodes and runs one sample; a bad image or mask throws a FileProblem naming its file. */
export async function runSample(model: SegModel, s: Sample, o: RunOptions): Promise<ImageResult> {
  const numClasses = model.config.data.num_classes;
  const t0 = now();
  let image: RgbImage;
  try {
    image = await decodeImage(await bytesOf(s.image.file), s.image.path);
  } catch (e) {
    throw { file: s.image.path, message: naming(s.image.path, e) } satisfies FileProblem;
  }
  let gt: IndexMap | null = null;
  if (s.mask) {
    try {
      const m = decodeIndexPng(await bytesOf(s.mask.file), s.mask.path);
      checkMask(m, numClasses, s.mask.path, image);
      gt = { width: m.width, height: m.height, data: m.data };
    } catch (e) {
      throw { file: s.mask.path, message: naming(s.mask.path, e) } satisfies FileProblem;
    }
  }
  const t1 = now();
  const { pred } = await model.segment(image, o.eval);
  const t2 = now();
  const cams = o.camScales ? await model.classCams(image, o.camScales) : null;
  const t3 = now();
  return { id: s.id, image, gt, pred, cams, ms: { decode: t1 - t0, segment: t2 - t1, cams: t3 - t2 } };
}

export const isFileProblem = (e: unknown): e is FileProblem =>
  typeof e === 'object' && e !== null && typeof (e as FileProblem).file === 'string' && typeof (e as FileProblem).message === 'string';

export interface EvalState {
  cm: ConfusionMatrix;
  /** Images run (with or without ground truth). */
  done: number;
  /** Images whose ground truth counted. */
  scored: number;
  total: number;
  problems: FileProblem[];
}

export interface EvalHooks {
  onImage(r: ImageResult, state: EvalState): void | Promise<void>;
  onProblem(p: FileProblem, state: EvalState): void;
  /** Checked before each image. */
  stopped(): boolean;
}

/**
 * Evaluates `samples` in order: each image's prediction is added to the confusion matrix against its ground
 * truth (255 ignored), as `seco eval` does. A file that cannot be used is reported and skipped; the run goes on.
 */
export async function evaluateSamples(model: SegModel, samples: readonly Sample[], o: RunOptions, hooks: EvalHooks): Promise<EvalState> {
  const state: EvalState = { cm: new ConfusionMatrix(model.config.data.num_classes + 1), done: 0, scored: 0, total: samples.length, problems: [] };
  for (const s of samples) {
    if (hooks.stopped()) break;
    let r: ImageResult;
    try {
      r = await runSample(model, s, o);
    } catch (e) {
      if (!isFileProblem(e)) throw e;
      state.problems.push(e);
      state.done++;
      hooks.onProblem(e, state);
      continue;
    }
    if (r.gt) {
      state.cm.add(r.gt.data, r.pred.data, s.id);
      state.scored++;
    }
    state.done++;
    await hooks.onImage(r, state);
  }
  return state;
}
