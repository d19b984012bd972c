// COCO instance annotations -> VOC-style index masks (0 background, c+1 for class c), as coco2voc produces.
// Segmentations come as polygons, uncompressed RLE (counts array) or compressed RLE (pycocotools' string).
import { DataError } from '../errors.ts';
import type { IndexMap } from '../image.ts';
import { cocoClassIndex } from './coco-classes.ts';

export type Polygon = number[];
export interface Rle {
  size: [number, number]; // [height, width]
  counts: number[] | string;
}
export interface CocoAnnotation {
  image_id: number;
  category_id: number;
  segmentation: Polygon[] | Rle;
  iscrowd?: number;
  area?: number;
}

/** pycocotools rleFrString: 6-bit groups with continuation and sign bits, deltas after the second run. */
export function decodeRleString(s: string): number[] {
  const counts: number[] = [];
  let p = 0;
  while (p < s.length) {
    let x = 0, k = 0, more = true;
    while (more) {
      if (p >= s.length) throw new Error('truncated compressed RLE');
      const c = s.charCodeAt(p) - 48;
      x |= (c & 0x1f) << (5 * k);
      more = (c & 0x20) !== 0;
      p++;
      k++;
      if (!more && c & 0x10) x |= -1 << (5 * k);
    }
    if (counts.length > 2) x += counts[counts.length - 2];
    counts.push(x);
  }
  return counts;
}

/** Paints an RLE (column-major runs, starting with zeros) with `value`. */
export function paintRle(mask: IndexMap, rle: Rle, value: number): void {
  const [h, w] = rle.size;
  if (h !== mask.height || w !== mask.width) throw new Error(`RLE size ${w}x${h} differs from the image's ${mask.width}x${mask.height}`);
  const counts = typeof rle.counts === 'string' ? decodeRleString(rle.counts) : rle.counts;
  let pos = 0;
  for (let i = 0; i < counts.length; i++) {
    const n = counts[i];
    if (n < 0 || pos + n > h * w) throw new Error('RLE runs exceed the image');
    if (i % 2 === 1) {
      for (let j = pos; j < pos + n; j++) mask.data[(j % h) * w + Math.floor(j / h)] = value;
    }
    pos += n;
  }
}

/** Even-odd fill of a polygon [x0,y0,x1,y1,...], sampling pixel centres. */
export function paintPolygon(mask: IndexMap, poly: Polygon, value: number): void {
  const n = poly.length >> 1;
  if (n < 3) return;
  const xs: number[] = [];
  for (let y = 0; y < mask.height; y++) {
    const cy = y + 0.5;
    xs.length = 0;
    for (let i = 0, j = n - 1; i < n; j = i++) {
      const xi = poly[2 * i], yi = poly[2 * i + 1], xj = poly[2 * j], yj = poly[2 * j + 1];
      if (yi > cy !== yj > cy) xs.push(xi + ((cy - yi) / (yj - yi)) * (xj - xi));
    }
    xs.sort((a, b) => a - b);
    for (let k = 0; k + 1 < xs.length; k += 2) {
      const x0 = Math.max(0, Math.ceil(xs[k] - 0.5)), x1 = Math.min(mask.width - 1, Math.ceil(xs[k + 1] - 0.5) - 1);
      for (let x = x0; x <= x1; x++) mask.data[y * mask.width + x] = value;
    }
  }
}

/**
 * Rasterises one image's annotations, largest first, so small objects lying on large ones (a remote on a
 * couch) stay visible; equal areas keep annotation order. `file` names the source in errors.
 */
export function annotationsToMask(anns: readonly CocoAnnotation[], width: number, height: number, file: string): IndexMap {
  const mask: IndexMap = { width, height, data: new Uint8Array(width * height) };
  const ordered = anns.map((a, i) => ({ a, i })).sort((x, y) => (y.a.area ?? 0) - (x.a.area ?? 0) || x.i - y.i);
  for (const { a } of ordered) {
    const c = cocoClassIndex(a.category_id);
    if (c === undefined) throw new DataError(file, `annotation of image ${a.image_id} has unknown category_id ${a.category_id}`);
    try {
      const seg = a.segmentation;
      if (Array.isArray(seg)) for (const poly of seg) paintPolygon(mask, poly, c + 1);
      else paintRle(mask, seg, c + 1);
    } catch (e) {
      throw new DataError(file, `annotation of image ${a.image_id}: ${e instanceof Error ? e.message : e}`, { cause: e });
    }
  }
  return mask;
}

/** 0-based classes of an image's annotations, which SeCo's COCO labels are missing and must be rebuilt from. */
export function labelsFromAnnotations(anns: readonly CocoAnnotation[]): number[] {
  const set = new Set<number>();
  for (const a of anns) {
    const c = cocoClassIndex(a.category_id);
    if (c !== undefined) set.add(c);
  }
  return [...set].sort((a, b) => a - b);
}
