// A truncated JPEG keeps its reason through the loader: libvips' one error buffer per process is cleared by every
// concurrent decode, which made sharp say "Unknown error" for about one failure in two with 8 decodes at once.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { describeDamage } from '../src/codecs/damage.ts';
import { encodeIndexPng } from '../src/codecs/png.ts';
import type { Dataset } from '../src/datasets/types.ts';
import { createLoader } from '../src/loader/loader.ts';
import { tempDir, vocRoot } from './helpers.ts';

const tmp = tempDir();
afterAll(tmp.cleanup);
const jpeg = readFileSync(join(vocRoot, 'JPEGImages', '2007_000032.jpg'));

describe('describeDamage', () => {
  it('tells a truncated JPEG or PNG from a whole one', () => {
    expect(describeDamage(jpeg)).toBeNull();
    expect(describeDamage(jpeg.subarray(0, 1500))).toMatch(/^JPEG data ends after 1500 bytes .*: the file is truncated$/);
    expect(describeDamage(jpeg.subarray(0, jpeg.length - 2))).toMatch(/without its end-of-image marker: the file is truncated/);
    expect(describeDamage(jpeg.subarray(0, 100))).toMatch(/before any image data \(no start-of-scan marker\)/);
    const png = encodeIndexPng({ width: 8, height: 4, data: new Uint8Array(32) });
    expect(describeDamage(png)).toBeNull();
    expect(describeDamage(png.subarray(0, png.length - 12))).toMatch(/^PNG data ends after \d+ bytes without its IEND chunk/);
    expect(describeDamage(new Uint8Array(0))).toBe('the file is empty');
    expect(describeDamage(new TextEncoder().encode('GIF89a'))).toBe('not a JPEG or PNG (the file starts with bytes 47 49 46 38)');
  });
});

describe('a truncated JPEG among good ones, decoded concurrently', () => {
  const bad = join(tmp.dir, 'cut.jpg');
  writeFileSync(bad, jpeg.subarray(0, 1500));
  const good = join(vocRoot, 'JPEGImages', '2007_000032.jpg');
  const ids = Array.from({ length: 8 }, (_, i) => `s${i}`);
  const ds: Dataset = { name: 'cut', numClasses: 20, classNames: [], ids, sample: (i) => ({ id: ids[i], image: i === 5 ? bad : good, mask: null, labels: [1] }) };

  for (const [workers, tries] of [[0, 6], [2, 3]]) {
    it(`keeps the decoder's reason and the file name (${workers} workers, ${tries} tries)`, async () => {
      for (let seed = 0; seed < tries; seed++) {
        const loader = createLoader({ dataset: ds, batchSize: 8, seed, aug: { cropSize: 32 }, workers });
        try {
          await expect(loader.next()).rejects.toThrow(new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: cannot decode image: .*(premature end of JPEG|the file is truncated)`));
        } finally {
          await loader.close();
        }
      }
    });
  }
});
