// Scoring a predictor over samples: prediction PNGs in the VOC palette, the IoU table (text, JSON, markdown) and
// a contact sheet of the first rows. The predictor is passed in, so this does not know the model.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeIndexPng } from '@seco/data';
import { ConfusionMatrix } from '@seco/models';
import type { EvalSample } from '../dataset.ts';
import type { RecordLog } from './records.ts';
import { contactSheet, type HeatMap, type LabelMap, labelOverlay, rgbToPng, type RgbImage, type SheetRow } from './pictures.ts';
import { formatIouJson, formatIouMarkdown, formatIouText, type IouReport, iouReport } from './iou-report.ts';

export interface Prediction {
  /** Class indices at the image's size (0 background, 255 ignore allowed for CAM seeds). */
  pred: LabelMap;
  /** A CAM to show in the contact sheet (e.g. the max over the present classes), at the image's size. */
  cam?: HeatMap | null;
}

export type Predictor = (sample: EvalSample) => Promise<Prediction>;

export interface EvaluateOptions {
  samples: AsyncIterable<EvalSample> | Iterable<EvalSample>;
  predict: Predictor;
  /** Including background. */
  classNames: readonly string[];
  outDir: string;
  /** Rows in sheet.png (0: none). */
  sheetRows?: number;
  /** Write pred/<id>.png for every image. */
  writePredictions?: boolean;
  onImage?: (index: number, id: string) => void;
  /**
   * Per-image records: each scored image is appended, and the report counts every image in them (those of an
   * earlier, interrupted run too; the caller skips those).
   */
  records?: RecordLog;
  /** Write iou.{txt,json,md} and sheet.png (false for one shard of several: `seco merge` writes the report). */
  writeReport?: boolean;
}

export interface EvaluateResult {
  report: IouReport;
  text: string;
  files: string[];
}

export async function evaluate(o: EvaluateOptions): Promise<EvaluateResult> {
  let cm = new ConfusionMatrix(o.classNames.length);
  const predDir = join(o.outDir, 'pred');
  await mkdir(predDir, { recursive: true });
  const files: string[] = [];
  const sheet: SheetRow[] = [];
  const maxRows = o.sheetRows ?? 8;
  let n = 0;
  for await (const s of o.samples) {
    const { pred, cam } = await o.predict(s);
    if (pred.width !== s.image.width || pred.height !== s.image.height) {
      throw new Error(`prediction for ${s.id} is ${pred.width}x${pred.height}, the image ${s.image.width}x${s.image.height}`);
    }
    if (o.records) {
      const one = new ConfusionMatrix(o.classNames.length);
      if (s.gt) one.add(s.gt.data, pred.data, s.id);
      await o.records.add(s.id, one);
    } else if (s.gt) cm.add(s.gt.data, pred.data, s.id);
    if (o.writePredictions ?? true) {
      const f = join(predDir, `${s.id}.png`);
      await writeFile(f, encodeIndexPng(pred));
      files.push(f);
    }
    if (sheet.length < maxRows) sheet.push({ name: s.id, image: s.image, gt: s.gt, cam: cam ?? null, pred });
    o.onImage?.(n, s.id);
    n++;
  }
  if (o.records) {
    cm = o.records.total;
    n = o.records.count;
  }
  if (n === 0) throw new Error('evaluate: no samples');
  const report = iouReport(cm, o.classNames, n);
  const text = formatIouText(report);
  if (o.writeReport === false) return { report, text, files };
  files.push(...(await writeIouReport(o.outDir, report)));
  if (sheet.length > 0) {
    await writeFile(join(o.outDir, 'sheet.png'), contactSheet(sheet).toPng());
    files.push(join(o.outDir, 'sheet.png'));
  }
  return { report, text, files };
}

/** iou.json, iou.md and iou.txt of a report. */
export async function writeIouReport(outDir: string, report: IouReport): Promise<string[]> {
  const outs: [string, string][] = [
    ['iou.json', formatIouJson(report)],
    ['iou.md', formatIouMarkdown(report)],
    ['iou.txt', formatIouText(report)],
  ];
  for (const [name, data] of outs) await writeFile(join(outDir, name), data);
  return outs.map(([name]) => join(outDir, name));
}

/** `seco infer` output for one image: the palette PNG and the overlay on the photo. */
export async function writeInference(outDir: string, id: string, image: RgbImage, pred: LabelMap): Promise<string[]> {
  await mkdir(outDir, { recursive: true });
  const mask = join(outDir, `${id}.png`);
  const overlay = join(outDir, `${id}_overlay.png`);
  await writeFile(mask, encodeIndexPng(pred));
  await writeFile(overlay, rgbToPng(labelOverlay(image, pred)));
  return [mask, overlay];
}
