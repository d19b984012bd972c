// Pure label helpers (no file system), usable in browsers too.
import { DataError } from '../errors.ts';
import type { IndexMap } from '../image.ts';

/** Image-level labels: id -> 0-based foreground class indices (no background entry), sorted. */
export type ImageLabels = Map<string, number[]>;

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

/** A ground-truth mask for `image`: values in 0..numClasses or 255, and the image's size; errors name `file`. */
export function checkMask(mask: IndexMap, numClasses: number, file: string, image?: { width: number; height: number }): void {
  validateMask(mask, numClasses, file);
  if (image && (mask.width !== image.width || mask.height !== image.height)) {
    throw new DataError(file, `mask is ${mask.width}x${mask.height} but its image is ${image.width}x${image.height}`);
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
