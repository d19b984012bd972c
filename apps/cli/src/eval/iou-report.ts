// The per-class IoU table of an evaluation, from a ConfusionMatrix: aligned text for the terminal, JSON for
// scripts, markdown for notes. Classes absent from the ground truth are shown but do not count in mIoU (§5).
import type { ConfusionMatrix, Scores } from '@seco/models';

export interface IouReport {
  miou: number;
  pixel_accuracy: number;
  mean_accuracy: number;
  images: number;
  classes: { id: number; name: string; iou: number | null; in_ground_truth: boolean }[];
}

export function iouReport(cm: ConfusionMatrix, classNames: readonly string[], images: number): IouReport {
  if (classNames.length !== cm.numClasses) throw new Error(`iouReport: ${classNames.length} class names for ${cm.numClasses} classes`);
  const s: Scores = cm.scores();
  return {
    miou: s.miou,
    pixel_accuracy: s.pixelAccuracy,
    mean_accuracy: s.meanAccuracy,
    images,
    classes: classNames.map((name, id) => ({ id, name, iou: Number.isNaN(s.iou[id]) ? null : s.iou[id], in_ground_truth: s.valid[id] })),
  };
}

const pct = (v: number | null) => (v === null || Number.isNaN(v) ? '-' : (100 * v).toFixed(2));

export function formatIouText(r: IouReport): string {
  const w = Math.max(5, ...r.classes.map((c) => c.name.length));
  const lines = [`${'class'.padEnd(w)}  IoU %`];
  for (const c of r.classes) lines.push(`${c.name.padEnd(w)}  ${pct(c.iou).padStart(6)}${c.in_ground_truth ? '' : '  (not in ground truth)'}`);
  lines.push(`${'mIoU'.padEnd(w)}  ${pct(r.miou).padStart(6)}`);
  lines.push(`pixel accuracy ${pct(r.pixel_accuracy)} %, mean accuracy ${pct(r.mean_accuracy)} %, ${r.images} images`);
  return `${lines.join('\n')}\n`;
}

export function formatIouMarkdown(r: IouReport): string {
  const rows = r.classes.map((c) => `| ${c.id} | ${c.name} | ${pct(c.iou)}${c.in_ground_truth ? '' : ' (absent)'} |`);
  return [
    '| id | class | IoU % |',
    '|---:|---|---:|',
    ...rows,
    `| | **mIoU** | **${pct(r.miou)}** |`,
    '',
    `${r.images} images; pixel accuracy ${pct(r.pixel_accuracy)} %, mean accuracy ${pct(r.mean_accuracy)} %. mIoU averages the classes present in the ground truth.`,
    '',
  ].join('\n');
}

/** JSON with NaN written as null (JSON has no NaN). */
export function formatIouJson(r: IouReport): string {
  return `${JSON.stringify(r, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`;
}
