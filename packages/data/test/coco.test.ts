import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeIndexPng } from '../src/codecs/png.ts';
import { COCO_CLASSES, cocoClassIndex } from '../src/datasets/coco-classes.ts';
import { annotationsToMask, type CocoAnnotation, decodeRleString, labelsFromAnnotations } from '../src/datasets/coco-masks.ts';
import { convertCocoToVoc, openCoco } from '../src/datasets/coco.ts';
import { cocoSample, tempDir } from './helpers.ts';

const tmp = tempDir();
afterAll(tmp.cleanup);
const anns = JSON.parse(readFileSync(join(cocoSample, 'coco_annotations_000000039769.json'), 'utf8')) as (CocoAnnotation & { area: number })[];

/** pycocotools rleToString, the reference encoder of the compressed format. */
function rleToString(cnts: number[]): string {
  let s = '';
  cnts.forEach((c, i) => {
    let x = i > 2 ? c - cnts[i - 2] : c;
    let more = true;
    while (more) {
      let ch = x & 0x1f;
      x >>= 5;
      more = ch & 0x10 ? x !== -1 : x !== 0;
      if (more) ch |= 0x20;
      s += String.fromCharCode(ch + 48);
    }
  });
  return s;
}

function toRleCounts(bits: Uint8Array, w: number, h: number): number[] {
  const counts: number[] = [];
  let cur = 0, run = 0;
  for (let x = 0; x < w; x++) {
    for (let y = 0; y < h; y++) {
      const v = bits[y * w + x];
      if (v !== cur) {
        counts.push(run);
        run = 0;
        cur = v;
      }
      run++;
    }
  }
  counts.push(run);
  return counts;
}

describe('COCO annotations to VOC-style masks', () => {
  it('rasterises the real polygons with the areas COCO records', () => {
    expect(labelsFromAnnotations(anns).map((c) => COCO_CLASSES[c])).toEqual(['cat', 'couch', 'bed', 'remote']);
    for (const a of anns) {
      const m = annotationsToMask([a], 640, 480, 'ann.json');
      const area = m.data.reduce((s, v) => s + (v > 0 ? 1 : 0), 0);
      expect(Math.abs(area - a.area) / a.area, `annotation of category ${a.category_id}`).toBeLessThan(0.03);
      expect(m.data.reduce((x, v) => Math.max(x, v), 0)).toBe(cocoClassIndex(a.category_id)! + 1);
    }
  });

  it('decodes compressed and uncompressed RLE (column-major) to the same mask', () => {
    const w = 13, h = 9;
    const bits = Uint8Array.from({ length: w * h }, (_, i) => ((i * 7) % 11 < 4 ? 1 : 0));
    const counts = toRleCounts(bits, w, h);
    expect(decodeRleString(rleToString(counts))).toEqual(counts);
    const cat = 17; // 'cat' -> class index 15 -> mask value 16
    for (const c of [counts, rleToString(counts)]) {
      const m = annotationsToMask([{ image_id: 1, category_id: cat, segmentation: { size: [h, w], counts: c } }], w, h, 'x.json');
      expect([...m.data]).toEqual([...bits].map((b) => (b ? 16 : 0)));
    }
  });

  it('names the file for an unknown category or a bad RLE', () => {
    expect(() => annotationsToMask([{ image_id: 5, category_id: 12, segmentation: [] }], 4, 4, 'inst.json')).toThrow(/inst\.json: annotation of image 5 has unknown category_id 12/);
    expect(() => annotationsToMask([{ image_id: 5, category_id: 1, segmentation: { size: [4, 4], counts: [3, 20] } }], 4, 4, 'inst.json')).toThrow(/inst\.json: .*RLE runs exceed/);
  });

  it('converts an instances file, then the COCO reader opens it in either folder naming', () => {
    const inst = join(tmp.dir, 'instances_val2014.json');
    writeFileSync(inst, JSON.stringify({ images: [{ id: 39769, file_name: 'COCO_val2014_000000039769.jpg', width: 640, height: 480 }], annotations: anns }));
    const masks = join(tmp.dir, 'SegmentationClass', 'val');
    const labels = convertCocoToVoc({ annotations: inst, outDir: masks, labelsJson: join(tmp.dir, 'labels.json') });
    expect(labels.get('COCO_val2014_000000039769')).toEqual([15, 57, 59, 65]);
    const m = decodeIndexPng(readFileSync(join(masks, '000000039769.png')), 'm');
    expect(new Set(m.data)).toEqual(new Set([0, 16, 58, 60, 66])); // remotes lie on the couch: painted after it

    const images = join(tmp.dir, 'JPEGImages', 'val2014'); // README naming for images, code naming for masks
    mkdirSync(images, { recursive: true });
    symlinkSync(join(cocoSample, 'COCO_val2014_000000039769.png'), join(images, 'COCO_val2014_000000039769.png'));
    const list = join(tmp.dir, 'val.txt');
    writeFileSync(list, 'COCO_val2014_000000039769\n');
    for (const lab of [{ annotations: inst }, { json: join(tmp.dir, 'labels.json') }]) {
      const ds = openCoco({ imageRoot: join(tmp.dir, 'JPEGImages'), maskRoot: join(tmp.dir, 'SegmentationClass'), split: 'val', list, labels: lab });
      expect(ds.numClasses).toBe(80);
      expect(ds.sample(0).labels).toEqual([15, 57, 59, 65]);
      expect(ds.sample(0).mask).toBe(join(masks, '000000039769.png'));
    }
    expect(() => openCoco({ imageRoot: join(tmp.dir, 'JPEGImages'), maskRoot: join(tmp.dir, 'SegmentationClass'), split: 'train', list, labels: { annotations: inst } })).toThrow(/COCO train folder not found \(looked for train\/ and train2014\/\)/);
  });
});
