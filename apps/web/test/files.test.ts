// Sorting picked files into images, mask folders and lists, and choosing the set to evaluate.
import { describe, expect, test } from 'vitest';
import { parseList, type PickedFile, selectSamples, sortPicked } from '../src/files.ts';

const f = (path: string, text = ''): PickedFile => ({ path, file: new Blob([text]) });

describe('picked files', () => {
  test('a VOC folder: images, mask folders ranked by matches (SegmentationClassAug first on a tie), lists', async () => {
    const p = await sortPicked([
      f('voc/VOC2012/JPEGImages/b.jpg'),
      f('voc/VOC2012/JPEGImages/a.jpg'),
      f('voc/VOC2012/JPEGImages/c.jpg'),
      f('voc/VOC2012/labelme_SegmentationClass/a.png'),
      f('voc/VOC2012/SegmentationClass/a.png'),
      f('voc/VOC2012/SegmentationClass/b.png'),
      f('voc/VOC2012/SegmentationClassAug/a.png'),
      f('voc/VOC2012/SegmentationClassAug/b.png'),
      f('voc/lists/val.txt', 'b\nc extra words\n\nzz'),
      f('voc/cls_labels.json', '{}'),
      f('voc/lists/empty.txt', '\n'),
    ]);
    expect([...p.images.keys()]).toEqual(['a', 'b', 'c']);
    expect(p.maskFolders.map((m) => [m.folder, m.matches])).toEqual([
      ['voc/VOC2012/SegmentationClassAug', 2],
      ['voc/VOC2012/SegmentationClass', 2],
      ['voc/VOC2012/labelme_SegmentationClass', 1],
    ]);
    expect(p.lists).toEqual([{ path: 'voc/lists/val.txt', ids: ['b', 'c', 'zz'] }]);
    expect(p.ignored).toEqual(['voc/cls_labels.json', 'voc/lists/empty.txt (an empty list)']);

    const val = selectSamples(p, { list: p.lists[0], maskFolder: p.maskFolders[0] });
    expect(val.samples.map((s) => [s.id, s.image.path, s.mask?.path ?? null])).toEqual([
      ['b', 'voc/VOC2012/JPEGImages/b.jpg', 'voc/VOC2012/SegmentationClassAug/b.png'],
      ['c', 'voc/VOC2012/JPEGImages/c.jpg', null],
    ]);
    expect(val.missing).toEqual(['zz']);
    const all = selectSamples(p, { maskFolder: null, limit: 2 });
    expect(all.samples.map((s) => [s.id, s.mask])).toEqual([['a', null], ['b', null]]);
  });

  test('loose images: PNG photos are images, PNGs in a mask-named folder are masks', async () => {
    const p = await sortPicked([f('x.png'), f('y.jpeg'), f('masks/x.png'), f('photos/z.PNG')]);
    expect([...p.images.keys()]).toEqual(['z', 'x', 'y']);
    expect(p.maskFolders.map((m) => m.folder)).toEqual(['masks']);
  });

  test('list lines: the first word, or the stem of a path', () => {
    expect(parseList('2007_000032\r\nJPEGImages/2007_000033.jpg SegmentationClassAug/2007_000033.png\n  2007_000039  ')).toEqual(['2007_000032', '2007_000033', '2007_000039']);
  });
});
