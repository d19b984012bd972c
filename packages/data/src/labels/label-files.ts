// Image-level label files: SeCo's .npy and our JSON. Node only (reads files).
import { readFileSync } from 'node:fs';
import { DataError } from '../errors.ts';
import { pickledToArray, readNpy } from '../io/npy.ts';
import { PickledArray } from '../io/numpy-pickle.ts';
import { PickleError } from '@seco/tensor/pickle';
import type { ImageLabels } from './image-labels.ts';

/** SeCo's cls_labels_onehot.npy: a pickled dict id -> float32[C] multi-hot. */
export function readClsLabelsNpy(file: string, numClasses?: number): ImageLabels {
  let value: unknown;
  try {
    value = readNpy(readFileSync(file), file);
  } catch (e) {
    // A PickleError already names the file: keep only what is wrong.
    throw new DataError(file, e instanceof PickleError ? e.detail : e instanceof Error ? e.message : String(e), { cause: e });
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
