// seco demo: the synthetic co-occurrence set (generated once into OUT/synthetic), the tiny demo config trained
// with every loss of its method (SeCo's demo, or ToCo's toco-demo), then the final evaluation on its val split:
// mIoU, the co-occurrence leak, pictures.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateSynthetic } from '@seco/data';
import { init } from '@seco/tensor';
import type { FlagValues } from '../args.ts';
import { CheckpointManager } from '../checkpoint/manager.ts';
import { loadConfig } from '../config/load.ts';
import type { SecoConfig } from '../config/schema.ts';
import { classNamesWithBackground, type EvalSample, openSplit, readSample } from '../dataset.ts';
import { evaluate } from '../eval/evaluate.ts';
import { CooccurrenceLeak, readContextMask } from '../eval/leak.ts';
import { loadSegModel } from '../model-bridge.ts';
import type { CommandIO } from './io.ts';
import { startEngine } from '../distributed/start-engine.ts';
import { overrides, parallelFlags, train } from './train.ts';

export function syntheticPaths(out: string): string[] {
  const dir = join(out, 'synthetic');
  return [
    `data.root=${dir}`,
    `data.train_list=${join(dir, 'train.txt')}`,
    `data.val_list=${join(dir, 'val.txt')}`,
    `data.labels=${join(dir, 'cls_labels.json')}`,
  ];
}

/** `count` images of the config's data.synthetic recipe into data.root, at the crop size and train seed. */
export function generateSyntheticSet(config: SecoConfig, syn: NonNullable<SecoConfig['data']['synthetic']>, count: number): void {
  generateSynthetic({
    outDir: config.data.root,
    count,
    numClasses: config.data.num_classes,
    size: config.train.crop_size,
    seed: config.train.seed,
    cooccurrence: syn.cooccurrence,
    contextOnly: syn.context_only,
    twoClasses: syn.two_classes,
    objectSize: [syn.object_size[0], syn.object_size[1]],
  });
}

/** Rows of eval/sheet.png. */
const SHEET_ROWS = 8;

export interface DemoResult {
  method: SecoConfig['method'];
  miou: number;
  leak: number;
  leak_per_class: (number | null)[];
  iterations: number;
  lil_weight: number;
  lig_weight: number;
  val_images: number;
  seconds: { train: number; eval: number; total: number };
}

/** Final inference (eval.scales × flip) on the val split; the leak from ContextMasks beside the images. */
async function finalEvaluation(config: SecoConfig, checkpoint: string, outDir: string) {
  const ds = openSplit(config, 'val', { masks: true });
  const model = await loadSegModel(config, checkpoint);
  const leak = new CooccurrenceLeak(config.data.num_classes);
  let shown = 0;
  async function* samples(): AsyncGenerator<EvalSample> {
    for (let i = 0; i < ds.ids.length; i++) yield readSample(ds, i);
  }
  try {
    const r = await evaluate({
      samples: samples(),
      predict: async (x) => {
        const p = await model.segment(x.image);
        leak.add(await readContextMask(config.data.root, x.id), p.pred.data);
        // The sheet's rows also show the CAM of the image's classes: where a context leaks, it lights up there.
        const cam = x.labels && shown++ < SHEET_ROWS ? (await model.camSeeds(x.image, x.labels, [1.0])).cam : null;
        return { ...p, cam };
      },
      sheetRows: SHEET_ROWS,
      classNames: classNamesWithBackground(ds),
      outDir,
    });
    return { report: r.report, text: r.text, leak, images: ds.ids.length };
  } finally {
    model.dispose();
  }
}

export async function demoCommand(flags: FlagValues, io: CommandIO): Promise<number> {
  const t0 = performance.now();
  const out = flags.out as string;
  // The data paths point into OUT unless the user overrides them explicitly.
  const { config } = loadConfig(flags.config as string, overrides(flags, syntheticPaths(out)));
  // Under mpirun every rank trains its share; rank 0 alone generates the set (the others wait) and evaluates.
  const world = await startEngine(io);
  await init();
  if (config.data.dataset !== 'synthetic') throw new Error('seco demo runs on the synthetic set (data.dataset "synthetic"); use seco train for others');
  if ((!world || world.rank === 0) && !existsSync(join(config.data.root, 'meta.json'))) {
    const syn = config.data.synthetic;
    if (!syn) throw new Error(`${config.data.root} holds no synthetic set and the config has no data.synthetic to generate one`);
    const count = (flags.images as number | undefined) ?? syn.images;
    io.stdout.write(`generating ${count} synthetic co-occurrence images (${config.train.crop_size} px) in ${config.data.root}\n`);
    generateSyntheticSet(config, syn, count);
  }
  await world?.barrier();
  await train({ config, out, resume: flags.resume === true, world, ...parallelFlags(flags) }, io);
  if (world && world.rank !== 0) return 0;
  const t1 = performance.now();
  const entries = await new CheckpointManager(join(out, 'checkpoints'), { keep: config.log.keep_checkpoints }).list();
  const last = entries.reduce((a, b) => (b.step > a.step ? b : a), entries[0]);
  if (!last) throw new Error(`no checkpoint in ${join(out, 'checkpoints')} after training`);
  io.stdout.write(`evaluating ${last.path} on the val split\n`);
  const ev = await finalEvaluation(config, last.path, join(out, 'eval'));
  const t2 = performance.now();
  io.stdout.write(ev.text);
  const result: DemoResult = {
    method: config.method,
    miou: ev.report.miou,
    leak: ev.leak.share(),
    leak_per_class: ev.leak.perClass(),
    iterations: last.step,
    // 0 for a method without LIL / LIG (toco)
    lil_weight: config.loss.weights.lil ?? 0,
    lig_weight: config.loss.weights.lig ?? 0,
    val_images: ev.images,
    seconds: { train: (t1 - t0) / 1000, eval: (t2 - t1) / 1000, total: (t2 - t0) / 1000 },
  };
  await writeFile(join(out, 'demo.json'), `${JSON.stringify(result, null, 2)}\n`);
  const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
  io.stdout.write(
    `demo: val mIoU ${pct(result.miou)}, co-occurrence leak ${pct(result.leak)} (context pixels predicted as their co-occurring class), ` +
      `method ${result.method}, LIL/LIG weights ${result.lil_weight}/${result.lig_weight}, ${result.iterations} iterations, ${result.seconds.total.toFixed(0)} s\n` +
      `pictures: ${join(out, 'loss.png')}, ${join(out, 'eval', 'sheet.png')}; figures: ${join(out, 'demo.json')}\n`,
  );
  return 0;
}
