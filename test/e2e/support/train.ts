// A small SeCo network trained by `seco train` on the real VOC sample (../shared/data), and `seco eval` of it:
// the CLI's numbers that the page must reproduce.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeIndexPng } from '@seco/data';
import { ConfusionMatrix } from '@seco/models';
import { TINY } from '../../../apps/cli/test/support/tiny-config.ts';
import { main } from '../../../apps/cli/src/main.ts';
import { sharedDataDir } from '../../support/fixtures.ts';

export const vocSample = join(sharedDataDir, 'voc-sample');
const voc = join(vocSample, 'VOC2012');

/** The demo config on the VOC sample at test size (TINY's 2-block ViT), evaluated at 64 px, scales 1 and 1.5, flip. */
export const SETS = [
  ...TINY,
  `data.root=${voc}`,
  `data.train_list=${join(vocSample, 'lists', 'train.txt')}`,
  `data.val_list=${join(vocSample, 'lists', 'val.txt')}`,
  `data.labels=${join(sharedDataDir, 'voc-full-labels', 'cls_labels_onehot.npy')}`,
  'data.num_classes=20',
  'train.max_iters=8',
  'log.checkpoint_interval=8',
  'eval.size=64',
  'eval.scales=[1,1.5]',
  'eval.flip=true',
  'eval.crf=false',
];

function quiet() {
  const err: string[] = [];
  return { io: { stdout: { write: () => true, isTTY: false } as never, stderr: { write: (s: string) => err.push(s) } as never }, err };
}

const made: string[] = [];
export function tmp(what: string): string {
  const dir = mkdtempSync(join(tmpdir(), `seco-e2e-${what}-`));
  made.push(dir);
  return dir;
}
/** Removes every folder tmp() made. */
export function removeTmp(): void {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** Trains and returns the final checkpoint's path. */
export async function trainCheckpoint(sets: readonly string[] = SETS): Promise<string> {
  const out = tmp('train');
  const q = quiet();
  const code = await main(['train', '--config', 'demo', ...sets.flatMap((s) => ['--set', s]), '--out', out], q.io);
  if (code !== 0) throw new Error(`seco train failed (${code}): ${q.err.join('')}`);
  const dir = join(out, 'checkpoints');
  const last = readdirSync(dir).filter((f) => f.endsWith('.safetensors')).sort().at(-1);
  if (!last) throw new Error(`seco train wrote no checkpoint in ${dir}`);
  return join(dir, last);
}

export interface CliEval {
  /** iou.json as written. */
  report: { miou: number; images: number; classes: { id: number; name: string; iou: number | null; in_ground_truth: boolean }[] };
  text: string;
  /** The confusion matrix of the CLI's prediction PNGs against the ground truth. */
  hist: number[];
  ids: string[];
}

/** `seco eval` of the val list (or its first `limit` ids): its report, and the confusion matrix rebuilt from the predictions it wrote. */
export async function cliEval(checkpoint: string, o: { sets?: readonly string[]; limit?: number } = {}): Promise<CliEval> {
  const out = tmp('eval');
  const q = quiet();
  const sets = o.sets ?? SETS;
  const limit = o.limit ? ['--limit', String(o.limit)] : [];
  const code = await main(['eval', '--config', 'demo', ...sets.flatMap((s) => ['--set', s]), '--checkpoint', checkpoint, '--out', out, ...limit], q.io);
  if (code !== 0) throw new Error(`seco eval failed (${code}): ${q.err.join('')}`);
  const ids = readFileSync(join(vocSample, 'lists', 'val.txt'), 'utf8').split(/\s+/).filter(Boolean).slice(0, o.limit ?? Infinity);
  const cm = new ConfusionMatrix(21);
  for (const id of ids) {
    const pred = decodeIndexPng(readFileSync(join(out, 'pred', `${id}.png`)), id);
    const gt = decodeIndexPng(readFileSync(join(voc, 'SegmentationClassAug', `${id}.png`)), id);
    cm.add(gt.data, pred.data, id);
  }
  return { report: JSON.parse(readFileSync(join(out, 'iou.json'), 'utf8')), text: readFileSync(join(out, 'iou.txt'), 'utf8'), hist: Array.from(cm.hist), ids };
}
