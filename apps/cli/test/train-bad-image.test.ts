// seco train on a set holding a truncated JPEG (a copy of a VOC sample image, cut): exit code 1 and one line with
// the file and the decoder's reason, which the loader's worker threads used to lose ("Unknown error").
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { sharedDataDir } from '../../../test/support/fixtures.ts';
import { main } from '../src/main.ts';
import { TINY } from './support/tiny-config.ts';

const voc = join(sharedDataDir, 'voc-sample', 'VOC2012');

describe('seco train with a truncated JPEG', () => {
  test("fails naming the file and the decoder's reason", async () => {
    const root = mkdtempSync(join(tmpdir(), 'seco-cli-cut-'));
    mkdirSync(join(root, 'JPEGImages'));
    const [cut, whole] = ['2007_000032', '2007_000039'];
    writeFileSync(join(root, 'JPEGImages', `${cut}.jpg`), readFileSync(join(voc, 'JPEGImages', `${cut}.jpg`)).subarray(0, 1500));
    symlinkSync(join(voc, 'JPEGImages', `${whole}.jpg`), join(root, 'JPEGImages', `${whole}.jpg`));
    writeFileSync(join(root, 'train.txt'), `${cut}\n${whole}\n`);
    const sets = [
      ...TINY,
      `data.root=${root}`,
      `data.train_list=${join(root, 'train.txt')}`,
      `data.val_list=${join(root, 'train.txt')}`,
      `data.labels=${join(sharedDataDir, 'voc-full-labels', 'cls_labels_onehot.npy')}`,
      'data.num_classes=20',
      'data.workers=2',
    ];
    const err: string[] = [];
    const io = { stdout: { write: () => true, isTTY: false } as never, stderr: { write: (s: string) => err.push(s) } as never };
    const code = await main(['train', '--config', 'demo', ...sets.flatMap((s) => ['--set', s]), '--out', join(root, 'run')], io);
    expect(code).toBe(1);
    // libvips' words, or (when concurrent decodes wiped them on every retry) what the bytes show.
    const file = join(root, 'JPEGImages', `${cut}.jpg`).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    expect(err.join('')).toMatch(new RegExp(`${file}: cannot decode image: (VipsJpeg: premature end of JPEG image|.*the file is truncated)`));
  });
});
