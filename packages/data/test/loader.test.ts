import { copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeIndexPng } from '../src/codecs/png.ts';
import { openVoc } from '../src/datasets/voc.ts';
import { readClsLabelsNpy } from '../src/labels/label-files.ts';
import { type Batch, createLoader, type LoaderOptions } from '../src/loader/loader.ts';
import { tempDir, vocFull, vocRoot, vocSample } from './helpers.ts';

const tmp = tempDir();
afterAll(tmp.cleanup);
const npy = { npy: join(vocFull, 'cls_labels_onehot.npy') };
const train = openVoc({ root: vocRoot, list: join(vocSample, 'lists', 'train.txt'), labels: npy, masks: false });
const small = { cropSize: 40 };

async function take(o: Omit<LoaderOptions, 'dataset'> & { dataset?: LoaderOptions['dataset'] }, n: number): Promise<Batch[]> {
  const loader = createLoader({ dataset: train, ...o });
  const out: Batch[] = [];
  try {
    for (let i = 0; i < n; i++) out.push((await loader.next())!);
  } finally {
    await loader.close();
  }
  return out;
}

const same = (a: ArrayBufferView | null, b: ArrayBufferView | null) =>
  Buffer.from(a!.buffer, a!.byteOffset, a!.byteLength).equals(Buffer.from(b!.buffer, b!.byteOffset, b!.byteLength));

describe('loader', () => {
  it('gives identical batches with 2 workers and on the calling thread, in NCHW', async () => {
    const opts = { batchSize: 4, seed: 3, aug: small, prefetch: 3 };
    const a = await take({ ...opts, workers: 2 }, 9); // crosses into epoch 1 (7 steps per epoch)
    const b = await take({ ...opts, workers: 0 }, 9);
    expect(a.map((x) => [x.epoch, x.step])).toEqual([[0, 0], [0, 1], [0, 2], [0, 3], [0, 4], [0, 5], [0, 6], [1, 0], [1, 1]]);
    for (let i = 0; i < 9; i++) {
      expect(a[i].ids).toEqual(b[i].ids);
      for (const k of ['images', 'strong', 'global2', 'imgBox', 'clsLabels', 'labelIdx'] as const) expect(same(a[i][k], b[i][k]), `${k} of batch ${i}`).toBe(true);
    }
    const x = a[0];
    expect(x.images.length).toBe(4 * 3 * 40 * 40);
    expect(x.imgBox!.length).toBe(16);
    expect(x.clsLabels.length).toBe(4 * 20);
    expect(x.images.buffer).toBeInstanceOf(SharedArrayBuffer);
    // Epoch 0 visits every sample but one (dropLast: 29 = 7 * 4 + 1), epoch 1 in another order.
    const epoch0 = a.slice(0, 7).flatMap((y) => y.ids);
    expect(new Set(epoch0).size).toBe(28);
    expect(a[7].ids).not.toEqual(a[0].ids);
    // Labels travel with their sample.
    const labels = JSON.parse(readFileSync(join(vocSample, 'cls_labels.json'), 'utf8')) as Record<string, { labels_xml_seco: number[] }>;
    x.ids.forEach((id, s) => {
      const want = labels[id].labels_xml_seco;
      expect([...x.clsLabels.subarray(s * 20, s * 20 + 20)].flatMap((v, c) => (v ? [c] : []))).toEqual(want);
      expect(x.labelIdx[s]).toBe(want.length === 1 ? want[0] + 1 : -1);
    });
  });

  it('resumes at (epoch, step) with the same batches as an uninterrupted run', async () => {
    const opts = { batchSize: 4, seed: 5, aug: small, workers: 1 };
    const full = await take(opts, 10);
    const resumed = await take({ ...opts, start: { epoch: 1, step: 1 } }, 2);
    expect(resumed[0].ids).toEqual(full[8].ids);
    expect(same(resumed[1].strong, full[9].strong)).toBe(true);
    const other = await take({ ...opts, seed: 6 }, 1);
    expect(other[0].ids).not.toEqual(full[0].ids);
  });

  it('two ranks of batch 2 see the samples and augmentations of one process of batch 4, in order', async () => {
    const opts = { seed: 7, aug: small, workers: 0 };
    const whole = await take({ ...opts, batchSize: 4 }, 8); // 29 samples: 7 global steps, then epoch 1
    const ranks = await Promise.all([0, 1].map((rank) => take({ ...opts, batchSize: 2, shard: { rank, count: 2 } }, 8)));
    for (let i = 0; i < 8; i++) {
      expect(ranks.map((r) => [r[i].epoch, r[i].step])).toEqual([[whole[i].epoch, whole[i].step], [whole[i].epoch, whole[i].step]]);
      expect([...ranks[0][i].ids, ...ranks[1][i].ids]).toEqual(whole[i].ids);
      for (const k of ['images', 'strong', 'global2', 'imgBox', 'clsLabels', 'labelIdx'] as const) {
        const joined = [ranks[0][i][k]!, ranks[1][i][k]!];
        const cat = new (joined[0].constructor as Float32ArrayConstructor)(joined[0].length + joined[1].length);
        cat.set(joined[0] as Float32Array);
        cat.set(joined[1] as Float32Array, joined[0].length);
        expect(same(cat, whole[i][k]), `${k} of batch ${i}`).toBe(true);
      }
    }
    expect(() => createLoader({ dataset: train, batchSize: 2, seed: 0, shard: { rank: 2, count: 2 } })).toThrow(/shard rank 2 of 2/);
    expect(() => createLoader({ dataset: train, batchSize: 10, seed: 0, shard: { rank: 0, count: 3 } })).toThrow(/3 ranks × 10/);
  });

  it('evaluates: resized images, full-size masks padded with 255, sizes', async () => {
    const val = openVoc({ root: vocRoot, list: join(vocSample, 'lists', 'val.txt'), labels: npy });
    const [b] = await take({ dataset: val, mode: 'eval', batchSize: 22, seed: 0, evalSize: 32, workers: 2 }, 1);
    expect(b.size).toBe(22);
    expect(b.ids[0]).toBe(val.ids[0]); // no shuffling in eval
    expect(b.images.length).toBe(22 * 3 * 32 * 32);
    const [h, w] = [b.sizes![0], b.sizes![1]];
    expect(w).toBeLessThanOrEqual(500);
    const m = b.masks!.subarray(0, 500 * 500);
    expect(m[(h - 1) * 500 + w - 1]).toBeLessThanOrEqual(255);
    if (w < 500) expect(m[w]).toBe(255);
    if (h < 500) expect(m[h * 500]).toBe(255);
    const loader = createLoader({ dataset: val, mode: 'eval', batchSize: 22, seed: 0, workers: 0 });
    expect(await loader.next()).not.toBeNull();
    expect(await loader.next()).toBeNull();
    await loader.close();
  });

  it('crops masks with the images when asked', async () => {
    const ds = openVoc({ root: vocRoot, list: join(vocSample, 'lists', 'train.txt'), labels: npy });
    const [b] = await take({ dataset: ds, batchSize: 2, seed: 1, aug: small, withMask: true, workers: 0 }, 1);
    expect(b.masks!.length).toBe(2 * 40 * 40);
    const [t, bt, l, r] = b.imgBox!;
    for (let y = 0; y < 40; y++) for (let x = 0; x < 40; x++) if (y < t || y >= bt || x < l || x >= r) expect(b.masks![y * 40 + x]).toBe(255);
  });

  const withBad = { map: new Map([...readClsLabelsNpy(npy.npy, 20), ['bad_0001', [14]]]) };

  function badTree(name: string, bad: 'jpeg' | 'mask-values' | 'mask-size'): { root: string; list: string } {
    const root = join(tmp.dir, name);
    mkdirSync(join(root, 'JPEGImages'), { recursive: true });
    mkdirSync(join(root, 'SegmentationClassAug'), { recursive: true });
    const ids = ['2007_000032', '2007_000033', '2007_000039', '2007_000042'];
    for (const id of ids) {
      symlinkSync(join(vocRoot, 'JPEGImages', `${id}.jpg`), join(root, 'JPEGImages', `${id}.jpg`));
      symlinkSync(join(vocRoot, 'SegmentationClassAug', `${id}.png`), join(root, 'SegmentationClassAug', `${id}.png`));
    }
    ids.push('bad_0001');
    if (bad === 'jpeg') {
      writeFileSync(join(root, 'JPEGImages', 'bad_0001.jpg'), readFileSync(join(vocRoot, 'JPEGImages', '2007_000032.jpg')).subarray(0, 1500));
      copyFileSync(join(vocRoot, 'SegmentationClassAug', '2007_000032.png'), join(root, 'SegmentationClassAug', 'bad_0001.png'));
    } else {
      symlinkSync(join(vocRoot, 'JPEGImages', '2007_000032.jpg'), join(root, 'JPEGImages', 'bad_0001.jpg'));
      const [w, h] = bad === 'mask-size' ? [400, 281] : [500, 281];
      const data = new Uint8Array(w * h).fill(3);
      if (bad === 'mask-values') data[1234] = 42;
      writeFileSync(join(root, 'SegmentationClassAug', 'bad_0001.png'), encodeIndexPng({ width: w, height: h, data }));
    }
    writeFileSync(join(root, 'list.txt'), ids.join('\n'));
    return { root, list: join(root, 'list.txt') };
  }

  it('propagates a corrupt JPEG from a worker as an error naming the file', async () => {
    const { root, list } = badTree('corrupt', 'jpeg');
    const ds = openVoc({ root, list, labels: withBad, masks: false });
    const loader = createLoader({ dataset: ds, batchSize: 5, seed: 0, aug: small, workers: 2 });
    await expect(loader.next()).rejects.toThrow(/JPEGImages\/bad_0001\.jpg: cannot decode image/);
    await loader.close();
  });

  it('names a mask with values outside 0..C and 255 (labels derived from masks)', async () => {
    const { root, list } = badTree('maskvals', 'mask-values');
    const ds = openVoc({ root, list, labels: 'from-masks', warn: () => {} });
    const loader = createLoader({ dataset: ds, batchSize: 5, seed: 0, aug: small, workers: 1 });
    await expect(loader.next()).rejects.toThrow(/SegmentationClassAug\/bad_0001\.png: mask value 42 at \(x 234, y 2\) is outside 0\.\.20 and 255/);
    await loader.close();
  });

  it('names a mask whose size differs from its image', async () => {
    const { root, list } = badTree('masksize', 'mask-size');
    const ds = openVoc({ root, list, labels: withBad });
    const loader = createLoader({ dataset: ds, mode: 'eval', batchSize: 5, seed: 0, evalSize: 32, workers: 1 });
    await expect(loader.next()).rejects.toThrow(/SegmentationClassAug\/bad_0001\.png: mask is 400x281 but its image is 500x281/);
    await loader.close();
  });

  it("skips unreadable samples when asked, replacing them deterministically and warning once", async () => {
    const { root, list } = badTree('skip', 'jpeg');
    const ds = openVoc({ root, list, labels: withBad, masks: false });
    const warnings: string[] = [];
    const run = async (workers: number) => {
      const loader = createLoader({ dataset: ds, batchSize: 2, seed: 2, aug: small, workers, onBadSample: 'skip', warn: (m) => warnings.push(m), epochs: 2 });
      const ids: string[] = [];
      for await (const b of loader) ids.push(...b.ids);
      const skipped = loader.skippedFiles;
      await loader.close();
      return { ids, skipped };
    };
    const a = await run(2), b = await run(0);
    expect(a.ids).toEqual(b.ids);
    expect(a.ids).not.toContain('bad_0001');
    expect(a.ids.length).toBe(8);
    expect(a.skipped).toEqual([join(root, 'JPEGImages', 'bad_0001.jpg')]);
    expect(warnings.length).toBe(2); // once per loader
    expect(warnings[0]).toMatch(/skipping unreadable sample \(1 so far\): .*bad_0001\.jpg: cannot decode/);
  });

  it('closes cleanly mid-epoch and refuses further use', async () => {
    const loader = createLoader({ dataset: train, batchSize: 4, seed: 0, aug: small, workers: 2, prefetch: 4 });
    await loader.next();
    await loader.close();
    await expect(loader.next()).rejects.toThrow(/closed/);
    await loader.close();
  });
});
