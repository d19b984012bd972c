import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeIndexPng } from '../src/codecs/png.ts';
import { readNpy } from '../src/io/npy.ts';
import { PickleError } from '@seco/tensor/pickle';
import { NUMPY_PICKLE, unpickleNumpy } from '../src/io/numpy-pickle.ts';
import { labelIdx, labelsFromMask, multiHot } from '../src/labels/image-labels.ts';
import { readClsLabelsNpy, readLabelsJson } from '../src/labels/label-files.ts';
import { tempDir, vocFull, vocRoot, vocSample } from './helpers.ts';

const tmp = tempDir();
afterAll(tmp.cleanup);

describe('image-level labels', () => {
  it("reads SeCo's cls_labels_onehot.npy exactly as its JSON export", () => {
    const npy = readClsLabelsNpy(join(vocFull, 'cls_labels_onehot.npy'), 20);
    const json = JSON.parse(readFileSync(join(vocFull, 'cls_labels_from_seco_npy.json'), 'utf8')) as Record<string, number[]>;
    expect(npy.size).toBe(12031);
    expect(Object.keys(json).length).toBe(12031);
    for (const [id, want] of Object.entries(json)) expect(npy.get(id), id).toEqual(want);
    // The XML-derived labels list a class the mask lacks on val id 2008_005245 (data README).
    expect(npy.get('2008_005245')!.length).toBeGreaterThan(0);
  });

  it('matches the JSON label file reader', () => {
    const file = join(vocFull, 'cls_labels_from_seco_npy.json');
    const fromJson = readLabelsJson(file, 20);
    const fromNpy = readClsLabelsNpy(join(vocFull, 'cls_labels_onehot.npy'), 20);
    expect([...fromJson.entries()].sort()).toEqual([...fromNpy.entries()].sort());
  });

  it('rejects a labels JSON with an out-of-range class, naming the file', () => {
    const f = join(tmp.dir, 'bad.json');
    writeFileSync(f, JSON.stringify({ a: [0, 20] }));
    expect(() => readLabelsJson(f, 20)).toThrow(new RegExp(`${f.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}.*labels of a`));
    writeFileSync(f, '{not json');
    expect(() => readLabelsJson(f, 20)).toThrow(/bad\.json: unreadable labels JSON/);
  });

  it('rejects a corrupt .npy with the file name', () => {
    const f = join(tmp.dir, 'bad.npy');
    writeFileSync(f, readFileSync(join(vocFull, 'cls_labels_onehot.npy')).subarray(0, 5000));
    expect(() => readClsLabelsNpy(f, 20)).toThrow(/\/bad\.npy: pickle data ends at byte \d+ inside opcode 0x[0-9a-f]+ at offset \d+: truncated$/);
    expect(() => readClsLabelsNpy(f, 20)).not.toThrow(/bad\.npy.*bad\.npy/); // named once
    writeFileSync(f, 'hello');
    expect(() => readClsLabelsNpy(f, 20)).toThrow(/bad\.npy: not a \.npy file/);
  });

  it('reads numeric .npy arrays and refuses unknown pickle globals', () => {
    // np.save(np.arange(6, dtype='<i4').reshape(2, 3)) written by hand.
    const header = "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }";
    const pad = 64 - ((10 + header.length + 1) % 64);
    const h = Buffer.from(header + ' '.repeat(pad) + '\n');
    const pre = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, h.length & 255, h.length >> 8]);
    const arr = readNpy(Buffer.concat([pre, h, Buffer.from(new Int32Array([0, 1, 2, 3, 4, 5]).buffer)])) as { shape: number[]; data: Int32Array };
    expect(arr.shape).toEqual([2, 3]);
    expect([...arr.data]).toEqual([0, 1, 2, 3, 4, 5]);
    // pickle.dumps(os.system, protocol=2) style GLOBAL
    expect(() => unpickleNumpy(Buffer.from('\x80\x02cos\nsystem\nq\x00.', 'latin1'), 'evil.npy')).toThrow(
      expect.objectContaining({ name: 'PickleError', file: 'evil.npy', global: 'os.system', message: 'evil.npy: global os.system is not allowed in numpy pickles (at offset 2)' }),
    );
    expect(NUMPY_PICKLE.unlisted).toBe('refuse');
    // A torch global is not a numpy one either.
    expect(() => unpickleNumpy(Buffer.from('\x80\x02ctorch._utils\n_rebuild_tensor_v2\n.', 'latin1'))).toThrow(PickleError);
  });

  it('derives labels from the sample masks as cls_labels.json does', () => {
    const meta = JSON.parse(readFileSync(join(vocSample, 'cls_labels.json'), 'utf8')) as Record<string, { labels_from_mask: number[] }>;
    const ids = Object.keys(meta);
    expect(ids.length).toBe(51);
    for (const id of ids) {
      const file = join(vocRoot, 'SegmentationClassAug', `${id}.png`);
      const mask = decodeIndexPng(readFileSync(file), file);
      expect(labelsFromMask(mask, 20, file), id).toEqual(meta[id].labels_from_mask);
    }
  });

  it('builds multi-hot vectors and label_idx as SeCo does', () => {
    expect([...multiHot([0, 14], 20)].reduce((a, b) => a + b)).toBe(2);
    expect(multiHot([3], 20)[3]).toBe(1);
    expect(labelIdx([3])).toBe(4);
    expect(labelIdx([0, 14])).toBe(-1);
    expect(labelIdx([])).toBe(-1);
  });
});
