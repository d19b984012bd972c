import { readFileSync } from 'node:fs';
import { DataError } from '../errors.ts';
import type { IndexMap } from '../image.ts';
import { pickledToArray } from '../io/npy.ts';
import { readNpy } from '../io/npy.ts';
import { PickledArray } from '../io/pickle.ts';

/** Image-level labels: id -> 0-based foreground class indices (no background entry), sorted. */
export type ImageLabels = Map<string, number[]>;

/** SeCo's cls_labels_onehot.npy: a pickled dict id -> float32[C] multi-hot. */
export function readClsLabelsNpy(file: string, numClasses?: number): ImageLabels {
  let value: unknown;
  try {
    value = readNpy(readFileSync(file));
  } catch (e) {
    throw new DataError(file, e instanceof Error ? e.message : String(e), { cause: e });
  }
  if (!(value instanceof Map)) throw new DataError(file, 'expected a pickled dict of id -> multi-hot array');
  const out: ImageLabels = new Map();
  for (const [id, arr] of value) {
    if (!(arr instanceof PickledArray)) throw new DataError(file, `entry ${String(id)} is not a numpy array`);
    const { shape, data } = pickledToArray(arr);
    if (shape.length !== 1 || (numClasses !== undefined && shape[0] !== numClasses)) {
      throw new DataError(file, `entry ${String(id)} has shape [${shape}], expected [${numClasses ?? 'C'}]`);
    }
    const idx: number[] = [];
    for (let c = 0; c < data.length; c++) if (data[c] > 0.5) idx.push(c);
    out.set(String(id), idx);
  }
  return out;
}

/** JSON labels: { "<id>": [0-based class indices] }, the format the synthetic set and the COCO converter write. */
export function readLabelsJson(file: string, numClasses: number): ImageLabels {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new DataError(file, `unreadable labels JSON: ${e instanceof Error ? e.message : e}`, { cause: e });
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new DataError(file, 'expected an object id -> class indices');
  const out: ImageLabels = new Map();
  for (const [id, v] of Object.entries(raw)) {
    if (!Array.isArray(v) || v.some((c) => !Number.isInteger(c) || c < 0 || c >= numClasses)) {
      throw new DataError(file, `labels of ${id} must be class indices in 0..${numClasses - 1}, got ${JSON.stringify(v)}`);
    }
    out.set(id, [...new Set(v as number[])].sort((a, b) => a - b));
  }
  return out;
}

/** Checks a mask holds only 0..C and 255; `file` names the mask in the error. */
export function validateMask(mask: IndexMap, numClasses: number, file: string): void {
  const d = mask.data;
  for (let i = 0; i < d.length; i++) {
    const v = d[i];
    if (v > numClasses && v !== 255) {
      throw new DataError(file, `mask value ${v} at (x ${i % mask.width}, y ${Math.floor(i / mask.width)}) is outside 0..${numClasses} and 255`);
    }
  }
}

/** Classes present in a mask (values 1..C become 0-based indices; 0 and 255 dropped). */
export function labelsFromMask(mask: IndexMap, numClasses: number, file: string): number[] {
  validateMask(mask, numClasses, file);
  const seen = new Uint8Array(256);
  for (const v of mask.data) seen[v] = 1;
  const out: number[] = [];
  for (let c = 1; c <= numClasses; c++) if (seen[c]) out.push(c - 1);
  return out;
}

/** float32[C] multi-hot, as SeCo's cls_label. */
export function multiHot(labels: readonly number[], numClasses: number): Float32Array {
  const v = new Float32Array(numClasses);
  for (const c of labels) v[c] = 1;
  return v;
}

/** SeCo's label_idx: 1-based class of a single-label image, -1 for none or several. */
export function labelIdx(labels: readonly number[]): number {
  return labels.length === 1 ? labels[0] + 1 : -1;
}
