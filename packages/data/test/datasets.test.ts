import { cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openVoc } from '../src/datasets/voc.ts';
import { tempDir, vocFull, vocRoot, vocSample } from './helpers.ts';

const tmp = tempDir();
afterAll(tmp.cleanup);
const npy = { npy: join(vocFull, 'cls_labels_onehot.npy') };

/** A throwaway VOC tree: symlinks to the real sample images and masks, so bad cases can be staged. */
function stage(name: string, ids: string[]): string {
  const root = join(tmp.dir, name);
  mkdirSync(join(root, 'JPEGImages'), { recursive: true });
  mkdirSync(join(root, 'SegmentationClassAug'), { recursive: true });
  for (const id of ids) {
    symlinkSync(join(vocRoot, 'JPEGImages', `${id}.jpg`), join(root, 'JPEGImages', `${id}.jpg`));
    symlinkSync(join(vocRoot, 'SegmentationClassAug', `${id}.png`), join(root, 'SegmentationClassAug', `${id}.png`));
  }
  writeFileSync(join(root, 'list.txt'), ids.join('\n'));
  return root;
}

describe('VOC reader', () => {
  it("opens the sample's train and val lists with SeCo's labels", () => {
    const meta = JSON.parse(readFileSync(join(vocSample, 'cls_labels.json'), 'utf8')) as Record<string, { labels_xml_seco: number[] }>;
    const warnings: string[] = [];
    for (const split of ['train', 'val']) {
      const ds = openVoc({ root: vocRoot, list: join(vocSample, 'lists', `${split}.txt`), labels: npy, warn: (m) => warnings.push(m) });
      expect(ds.ids.length).toBe(split === 'train' ? 29 : 22);
      for (let i = 0; i < ds.ids.length; i++) {
        const s = ds.sample(i);
        expect(s.labels).toEqual(meta[s.id].labels_xml_seco);
        expect(s.image.endsWith(`JPEGImages/${s.id}.jpg`)).toBe(true);
        expect(s.mask!.endsWith(`SegmentationClassAug/${s.id}.png`)).toBe(true);
      }
    }
    expect(warnings).toEqual([]);
  });

  it('warns when labels are derived from masks', () => {
    const warnings: string[] = [];
    const ds = openVoc({ root: vocRoot, list: join(vocSample, 'lists', 'val.txt'), labels: 'from-masks', warn: (m) => warnings.push(m) });
    expect(ds.sample(0).labels).toBeNull();
    expect(warnings.join()).toMatch(/derived from the masks \(a fallback/);
  });

  it('reads the full official lists, including val.txt without a final newline', () => {
    const raw = readFileSync(join(vocFull, 'lists', 'val.txt'), 'utf8');
    expect(raw.endsWith('\n')).toBe(false);
    const root = join(tmp.dir, 'fullval');
    mkdirSync(join(root, 'JPEGImages'), { recursive: true });
    symlinkSync(join(vocFull, 'SegmentationClassAug_val'), join(root, 'SegmentationClassAug'));
    // Empty stand-in images: the reader checks presence at open, decoding happens in the loader.
    for (const id of raw.split('\n')) writeFileSync(join(root, 'JPEGImages', `${id}.jpg`), '');
    const ds = openVoc({ root, list: join(vocFull, 'lists', 'val.txt'), labels: npy });
    expect(ds.ids.length).toBe(1449);
    expect(ds.ids.at(-1)).toBe(raw.split('\n').at(-1));
  });

  it('names a missing root, image folder, mask folder or list file', () => {
    const list = join(vocSample, 'lists', 'val.txt');
    expect(() => openVoc({ root: join(tmp.dir, 'nope'), list, labels: npy })).toThrow(/nope: dataset root folder not found/);
    const root = join(tmp.dir, 'empty');
    mkdirSync(root);
    expect(() => openVoc({ root, list, labels: npy })).toThrow(/empty\/JPEGImages: image folder not found/);
    mkdirSync(join(root, 'JPEGImages'));
    expect(() => openVoc({ root, list, labels: npy })).toThrow(/empty\/SegmentationClassAug: mask folder not found/);
    expect(() => openVoc({ root: vocRoot, list: join(tmp.dir, 'missing.txt'), labels: npy })).toThrow(/missing\.txt: list file not found/);
    writeFileSync(join(tmp.dir, 'blank.txt'), '\n\n');
    expect(() => openVoc({ root: vocRoot, list: join(tmp.dir, 'blank.txt'), labels: npy })).toThrow(/blank\.txt: list file is empty/);
  });

  it('names a listed id without its image, mask or labels; skip mode drops and counts them', () => {
    const root = stage('holes', ['2007_000032', '2007_000033']);
    const list = join(root, 'list.txt');
    writeFileSync(list, '2007_000032\n2007_000033\n2099_000001\n');
    expect(() => openVoc({ root, list, labels: npy })).toThrow(/JPEGImages\/2099_000001\.jpg: image of 2099_000001 \(listed in .*list\.txt\) not found/);
    writeFileSync(join(root, 'JPEGImages', '2099_000001.jpg'), '');
    expect(() => openVoc({ root, list, labels: npy })).toThrow(/SegmentationClassAug\/2099_000001\.png: mask of 2099_000001/);
    writeFileSync(join(root, 'SegmentationClassAug', '2099_000001.png'), '');
    expect(() => openVoc({ root, list, labels: npy })).toThrow(/cls_labels_onehot\.npy: no image-level labels for 2099_000001/);
    const warnings: string[] = [];
    const ds = openVoc({ root, list, labels: npy, onBadSample: 'skip', warn: (m) => warnings.push(m) });
    expect(ds.ids).toEqual(['2007_000032', '2007_000033']);
    expect(ds.skipped.map((s) => s.id)).toEqual(['2099_000001']);
    expect(warnings.join()).toMatch(/skipped 1 of 3 listed ids/);
  });

  it('accepts PNG images in JPEGImages (synthetic sets)', () => {
    const root = stage('pngimg', []);
    cpSync(join(vocRoot, 'SegmentationClassAug', '2007_000032.png'), join(root, 'JPEGImages', 'x.png'));
    cpSync(join(vocRoot, 'SegmentationClassAug', '2007_000032.png'), join(root, 'SegmentationClassAug', 'x.png'));
    writeFileSync(join(root, 'list.txt'), 'x\n');
    const ds = openVoc({ root, list: join(root, 'list.txt'), labels: 'from-masks', warn: () => {} });
    expect(ds.sample(0).image.endsWith('JPEGImages/x.png')).toBe(true);
  });
});
