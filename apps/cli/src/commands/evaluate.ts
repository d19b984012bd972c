// seco eval (segmentation) and seco cam (CAM seeds): the config's dataset split, a checkpoint, and the
// evaluation outputs of eval/evaluate.ts.
import { mkdir } from 'node:fs/promises';
import type { FlagValues } from '../args.ts';
import { loadConfig } from '../config/load.ts';
import type { SecoConfig } from '../config/schema.ts';
import { classNamesWithBackground, openSplit, readSample } from '../dataset.ts';
import { evaluate, type Predictor, writeIouReport } from '../eval/evaluate.ts';
import { formatIouText, iouReport } from '../eval/iou-report.ts';
import { digestOf, mergeRecords, parseShard, RecordLog, type Shard, shardPositions, WHOLE } from '../eval/records.ts';
import { hashFile } from '../prepare/digest.ts';
import { loadSegModel, type SegModel } from '../model-bridge.ts';
import type { Communicator } from '../distributed/communicator.ts';
import { followerIO } from '../distributed/follower-run.ts';
import { sumConfusion } from '../distributed/sum-confusion.ts';
import type { CommandIO } from './io.ts';
import { startEngine } from '../distributed/start-engine.ts';

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
  /** The checkpoint file (its digest keys the per-image records). */
  checkpoint: string;
  /** This job's share of the list (default: all of it). */
  shard?: Shard;
  /** Under mpirun: rank r scores shard r/N, and the ranks' matrices are summed into rank 0's report. */
  world?: Communicator | null;
}

/** What the predictions depend on besides the checkpoint: resumed and merged records must agree on it. */
function settingsDigest(config: SecoConfig, mode: string): string {
  const { interval: _, ...evalSettings } = config.eval;
  const { pretrained: __, ...model } = config.model;
  return digestOf(JSON.stringify({ mode, eval: evalSettings, model, cam: config.cam, par: config.par }));
}

export async function runEvaluation(s: EvalSetup, commandIO: CommandIO): Promise<number> {
  const world = s.world ?? null;
  if (world && s.shard) throw new Error('--shard I/N splits the list over separate jobs; under mpirun the ranks split it themselves (drop --shard)');
  const io = world && world.rank !== 0 ? followerIO(commandIO) : commandIO;
  const ds = openSplit(s.config, s.split, { masks: true, list: s.list });
  const shard = world ? { index: world.rank, count: world.size } : (s.shard ?? WHOLE);
  const whole = Math.min(ds.ids.length, s.limit ?? Infinity);
  const positions = shardPositions(whole, shard);
  const classes = classNamesWithBackground(ds);
  await mkdir(s.out, { recursive: true });
  const records = await RecordLog.open(
    s.out,
    {
      format: 'seco-eval-records/1',
      mode: s.mode,
      classes,
      shard: [shard.index, shard.count],
      images: positions.length,
      list: digestOf(ds.ids.slice(0, whole).join('\n')),
      checkpoint: (await hashFile(s.checkpoint)).sha256,
      settings: settingsDigest(s.config, s.mode),
    },
    (l) => io.stderr.write(`${l}\n`),
  );
  const todo = positions.filter((i) => !records.has(ds.sample(i).id));
  const predict: Predictor =
    s.mode === 'seg'
      ? (x) => s.model.segment(x.image)
      : (x) => {
          if (!x.labels) throw new Error(`${x.id}: no image-level labels; seco cam needs them (config data.labels)`);
          return s.model.camSeeds(x.image, x.labels, CAM_SCALES);
        };
  const sharded = shard.count > 1;
  const total = positions.length;
  const { text } = await evaluate({
    samples: (async function* () {
      for (const i of todo) yield await readSample(ds, i);
    })(),
    predict,
    classNames: classes,
    outDir: s.out,
    records,
    writeReport: !sharded,
    onImage: (i, id) => {
      const done = records.count;
      if (done % 50 === 0 || done === total) io.stderr.write(`${done}/${total} ${id}\n`);
    },
  });
  if (world) {
    const all = await sumConfusion(world, records.total, records.count);
    if (world.rank !== 0) return 0;
    const report = iouReport(all.cm, classes, all.images);
    await writeIouReport(s.out, report);
    io.stdout.write(formatIouText(report));
    io.stdout.write(`${world.size} ranks scored ${all.images} images (records in ${s.out}/records-*-of-${world.size}.jsonl); wrote ${s.out}/iou.{txt,json,md} and ${s.out}/pred/*.png\n`);
  } else if (sharded) {
    io.stdout.write(`shard ${shard.index}/${shard.count}: ${total} images scored into ${records.file}; this shard alone:\n${text}`);
    io.stdout.write(`when every shard is done: seco merge --out ${s.out}\n`);
  } else {
    io.stdout.write(text);
    io.stdout.write(`wrote ${s.out}/iou.{txt,json,md}, ${s.out}/sheet.png and ${s.out}/pred/*.png\n`);
  }
  return 0;
}

export async function evalCommand(mode: 'seg' | 'cam', flags: FlagValues, io: CommandIO): Promise<number> {
  const { config } = loadConfig(flags.config as string, (flags.set as string[] | undefined) ?? []);
  const shard = flags.shard === undefined ? undefined : parseShard(flags.shard as string);
  const world = await startEngine(io);
  const model = await loadSegModel(config, flags.checkpoint as string, (l) => io.stderr.write(`${l}\n`));
  try {
    return await runEvaluation(
      {
        config,
        mode,
        split: flags.split as 'train' | 'val',
        list: flags.list as string | undefined,
        limit: flags.limit as number | undefined,
        out: flags.out as string,
        model,
        checkpoint: flags.checkpoint as string,
        shard,
        world,
      },
      io,
    );
  } finally {
    model.dispose();
  }
}

/** seco merge: the shards' records in one folder summed into the report one run would have written. */
export async function mergeCommand(flags: FlagValues, io: CommandIO): Promise<number> {
  const out = flags.out as string;
  const m = await mergeRecords(out);
  const report = iouReport(m.cm, m.classes, m.images);
  await writeIouReport(out, report);
  io.stdout.write(formatIouText(report));
  io.stdout.write(`merged ${m.shards} shards (${m.images} images); wrote ${out}/iou.{txt,json,md}\n`);
  return 0;
}
