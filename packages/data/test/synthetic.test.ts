import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeImage } from '../src/codecs/decode-node.ts';
import { decodeIndexPng } from '../src/codecs/png.ts';
import { generateSynthetic, openSynthetic } from '../src/datasets/synthetic.ts';
import { labelsFromMask } from '../src/labels/image-labels.ts';
import { createLoader } from '../src/loader/loader.ts';
import { tempDir } from './helpers.ts';

const tmp = tempDir();
afterAll(tmp.cleanup);

describe('synthetic co-occurrence set', () => {
  const dir = join(tmp.dir, 'a');
  const t0 = performance.now();
  const meta = generateSynthetic({ outDir: dir, count: 600, size: 48, seed: 4 });
  const seconds = (performance.now() - t0) / 1000;

  it('is generated quickly, with the documented classes and contexts', () => {
    expect(seconds).toBeLessThan(10);
    expect(meta.classes).toEqual(['boat', 'train', 'aeroplane', 'cow', 'car']);
    expect(meta.contexts).toEqual(['water', 'rails', 'sky', 'grass', 'road']);
    // Each class shows its context in about 85% of its images.
    for (const r of meta.measuredCooccurrence) expect(Math.abs(r - 0.85)).toBeLessThan(0.08);
  });

  it('repeats byte for byte for a seed and changes with it', () => {
    const b = join(tmp.dir, 'b'), c = join(tmp.dir, 'c');
    generateSynthetic({ outDir: b, count: 20, size: 48, seed: 4 });
    generateSynthetic({ outDir: c, count: 20, size: 48, seed: 5 });
    const file = (d: string, sub: string, id: string) => readFileSync(join(d, sub, `${id}.png`));
    for (const id of ['syn_000000', 'syn_000019']) {
      expect(file(b, 'JPEGImages', id).equals(file(dir, 'JPEGImages', id))).toBe(true);
      expect(file(b, 'SegmentationClassAug', id).equals(file(dir, 'SegmentationClassAug', id))).toBe(true);
    }
    expect(file(c, 'JPEGImages', 'syn_000000').equals(file(dir, 'JPEGImages', 'syn_000000'))).toBe(false);
  });

  it('draws larger objects with a larger objectSize, and refuses a bad range', () => {
    const foreground = (d: string) => {
      let n = 0;
      for (let i = 0; i < 40; i++) {
        const f = join(d, 'SegmentationClassAug', `syn_${String(i).padStart(6, '0')}.png`);
        n += decodeIndexPng(readFileSync(f), f).data.filter((v) => v > 0).length;
      }
      return n;
    };
    const small = join(tmp.dir, 'small'), large = join(tmp.dir, 'large');
    generateSynthetic({ outDir: small, count: 40, size: 48, seed: 4, objectSize: [0.2, 0.3] });
    const m = generateSynthetic({ outDir: large, count: 40, size: 48, seed: 4, objectSize: [0.5, 0.6] });
    expect(m.objectSize).toEqual([0.5, 0.6]);
    // Area grows with the square of the width: (0.55 / 0.25)^2 is about 4.8; overlaps and clipping take some.
    expect(foreground(large)).toBeGreaterThan(2.5 * foreground(small));
    expect(() => generateSynthetic({ outDir: join(tmp.dir, 'bad'), count: 1, objectSize: [0.6, 0.4] })).toThrow(/objectSize \[0.6, 0.4\]/);
  });

  it('is read by the VOC reader, labels agree with masks, context pixels are background', async () => {
    const train = openSynthetic(dir, 'train');
    const val = openSynthetic(dir, 'val');
    expect(train.ids.length + val.ids.length).toBe(600);
    expect(val.ids.length).toBe(120);
    for (let i = 0; i < 40; i++) {
      const s = train.sample(i);
      const mask = decodeIndexPng(readFileSync(s.mask!), s.mask!);
      expect(labelsFromMask(mask, 5, s.mask!), s.id).toEqual(s.labels);
      expect(s.labels!.length).toBeGreaterThan(0);
      const img = await decodeImage(readFileSync(s.image), s.image);
      expect([img.width, img.height]).toEqual([48, 48]);
    }
    // Water (the boat's context) is blue and lies in background pixels: find images with a boat and check
    // that most blue-dominant pixels are labelled 0.
    let blueBg = 0, blue = 0;
    for (let i = 0; i < train.ids.length && blue < 2000; i++) {
      const s = train.sample(i);
      if (!s.labels!.includes(0)) continue;
      const img = await decodeImage(readFileSync(s.image), s.image);
      const mask = decodeIndexPng(readFileSync(s.mask!), s.mask!);
      for (let p = 0; p < 48 * 48; p++) {
        const [r, g, b] = [img.data[3 * p], img.data[3 * p + 1], img.data[3 * p + 2]];
        if (b > 150 && b > r + 80 && b > g + 30) {
          blue++;
          if (mask.data[p] === 0) blueBg++;
        }
      }
    }
    expect(blue).toBeGreaterThan(500);
    expect(blueBg / blue).toBeGreaterThan(0.95);
  });

  it('feeds the loader at demo sizes', async () => {
    const loader = createLoader({ dataset: openSynthetic(dir, 'train'), batchSize: 8, seed: 0, aug: { cropSize: 48 }, workers: 2 });
    const b = (await loader.next())!;
    await loader.close();
    expect(b.images.length).toBe(8 * 3 * 48 * 48);
    expect(b.clsLabels.length).toBe(8 * 5);
  });
});
