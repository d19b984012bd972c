// seco eval (segmentation) and seco cam (CAM seeds): the config's dataset split, a checkpoint, and the
// evaluation outputs of eval/evaluate.ts.
import { init } from '@seco/tensor';
import type { FlagValues } from '../args.ts';
import { loadConfig } from '../config/load.ts';
import type { SecoConfig } from '../config/schema.ts';
import { classNamesWithBackground, type EvalSample, openSplit, readSample } from '../dataset.ts';
import { evaluate, type Predictor } from '../eval/evaluate.ts';
import { loadSegModel, type SegModel } from '../model-bridge.ts';
import type { CommandIO } from './io.ts';

/** SeCo's infer_cam.py scales: flip only, or its --refine_with_multiscale set. */
export const CAM_SCALES = [1.0];

export interface EvalSetup {
  config: SecoConfig;
  mode: 'seg' | 'cam';
  split: 'train' | 'val';
  list?: string;
  limit?: number;
  out: string;
  model: SegModel;
}

async function* samples(config: SecoConfig, split: 'train' | 'val', list: string | undefined, limit: number | undefined): AsyncGenerator<EvalSample> {
  const ds = openSplit(config, split, { masks: true, list });
  const n = Math.min(ds.ids.length, limit ?? Infinity);
  for (let i = 0; i < n; i++) yield readSample(ds, i);
}

export async function runEvaluation(s: EvalSetup, io: CommandIO): Promise<number> {
  const ds = openSplit(s.config, s.split, { masks: true, list: s.list });
  const predict: Predictor =
    s.mode === 'seg'
      ? (x) => s.model.segment(x.image)
      : (x) => {
          if (!x.labels) throw new Error(`${x.id}: no image-level labels; seco cam needs them (config data.labels)`);
          return s.model.camSeeds(x.image, x.labels, CAM_SCALES);
        };
  const total = Math.min(ds.ids.length, s.limit ?? Infinity);
  const { text } = await evaluate({
    samples: samples(s.config, s.split, s.list, s.limit),
    predict,
    classNames: classNamesWithBackground(ds),
    outDir: s.out,
    onImage: (i, id) => {
      if ((i + 1) % 50 === 0 || i + 1 === total) io.stderr.write(`${i + 1}/${total} ${id}\n`);
    },
  });
  io.stdout.write(text);
  io.stdout.write(`wrote ${s.out}/iou.{txt,json,md}, ${s.out}/sheet.png and ${s.out}/pred/*.png\n`);
  return 0;
}

export async function evalCommand(mode: 'seg' | 'cam', flags: FlagValues, io: CommandIO): Promise<number> {
  const { config } = loadConfig(flags.config as string, (flags.set as string[] | undefined) ?? []);
  await init();
  const model = await loadSegModel(config, flags.checkpoint as string, (l) => io.stderr.write(`${l}\n`));
  try {
    return await runEvaluation(
      { config, mode, split: flags.split as 'train' | 'val', list: flags.list as string | undefined, limit: flags.limit as number | undefined, out: flags.out as string, model },
      io,
    );
  } finally {
    model.dispose();
  }
}
