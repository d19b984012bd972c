import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage } from '../src/codecs/decode-node.ts';
import { decodeIndexPng, encodeIndexPng, vocPalette } from '../src/codecs/png.ts';
import { cocoSample, tempDir, vocRoot, vocSample } from './helpers.ts';

const tmp = tempDir();
afterAll(tmp.cleanup);
const jpg = (id: string) => join(vocRoot, 'JPEGImages', `${id}.jpg`);
const png = (id: string) => join(vocRoot, 'SegmentationClassAug', `${id}.png`);

describe('image decoding (Node)', () => {
  it('decodes every VOC sample JPEG to RGB at its recorded size', async () => {
    const meta = JSON.parse(readFileSync(join(vocSample, 'cls_labels.json'), 'utf8')) as Record<string, { size_wh: [number, number] }>;
    for (const [id, m] of Object.entries(meta)) {
      const img = await decodeImage(readFileSync(jpg(id)), jpg(id));
      expect([img.width, img.height], id).toEqual(m.size_wh);
      expect(img.data.length).toBe(img.width * img.height * 3);
    }
  });

  it('decodes a PNG photo (the COCO sample) to RGB', async () => {
    const f = join(cocoSample, 'COCO_val2014_000000039769.png');
    const img = await decodeImage(readFileSync(f), f);
    expect([img.width, img.height]).toEqual([640, 480]);
  });

  let gray: Buffer, cmyk: Buffer, reference: Uint8Array;
  beforeAll(async () => {
    const src = sharp(jpg('2011_000003')).resize(40, 30);
    gray = await src.clone().greyscale().toColourspace('b-w').jpeg({ quality: 95 }).toBuffer();
    cmyk = await src.clone().toColourspace('cmyk').jpeg({ quality: 95 }).toBuffer();
    reference = (await decodeImage(await src.clone().jpeg({ quality: 95 }).toBuffer(), 'ref')).data;
  });

  it('turns a grayscale JPEG into RGB with equal channels', async () => {
    expect((await sharp(gray).metadata()).channels).toBe(1);
    const img = await decodeImage(gray, 'gray.jpg');
    expect(img.data.length).toBe(40 * 30 * 3);
    for (let i = 0; i < img.data.length; i += 3) expect(img.data[i + 1]).toBe(img.data[i]);
  });

  it('turns a CMYK JPEG into RGB close to the original', async () => {
    expect((await sharp(cmyk).metadata()).space).toBe('cmyk');
    const img = await decodeImage(cmyk, 'cmyk.jpg');
    let err = 0;
    for (let i = 0; i < img.data.length; i++) err += Math.abs(img.data[i] - reference[i]);
    expect(err / img.data.length).toBeLessThan(20);
  });

  it('names the file of a corrupt or non-image input', async () => {
    const good = readFileSync(jpg('2007_000032'));
    await expect(decodeImage(good.subarray(0, 2000), '/x/truncated.jpg')).rejects.toThrow(/^\/x\/truncated\.jpg: cannot decode image/);
    await expect(decodeImage(Buffer.from('not an image'), '/x/text.jpg')).rejects.toThrow(/\/x\/text\.jpg: cannot decode image/);
  });
});

describe('palette PNG with raw indices', () => {
  it('reads class indices, not colours, from VOC masks', () => {
    const m = decodeIndexPng(readFileSync(png('2007_000032')), png('2007_000032'));
    expect([m.width, m.height]).toEqual([500, 281]);
    const values = new Set(m.data);
    expect([...values].sort((a, b) => a - b)).toEqual([0, 1, 15, 255]);
    // The palette is VOC's: index 1 is (128, 0, 0).
    expect(m.palette![1].slice(0, 3)).toEqual([128, 0, 0]);
  });

  it('round-trips indices through encode and decode, also via pngjs and sharp readers', async () => {
    const data = new Uint8Array(37 * 23);
    for (let i = 0; i < data.length; i++) data[i] = i % 7 === 0 ? 255 : i % 21;
    const bytes = encodeIndexPng({ width: 37, height: 23, data });
    const back = decodeIndexPng(bytes, 'mem.png');
    expect(back.width).toBe(37);
    expect(Buffer.from(back.data).equals(Buffer.from(data))).toBe(true);
    // An independent decoder sees VOC colours at those indices.
    const rgb = await sharp(bytes).raw().toBuffer();
    const pal = vocPalette();
    expect([rgb[3], rgb[4], rgb[5]]).toEqual([pal[3], pal[4], pal[5]]);
    const real = readFileSync(png('2007_000033'));
    const m = decodeIndexPng(real, 'a');
    expect(Buffer.from(decodeIndexPng(encodeIndexPng(m), 'b').data).equals(Buffer.from(m.data))).toBe(true);
  });

  it('reads 8-bit grayscale masks as indices', async () => {
    const data = Buffer.from([0, 1, 2, 255, 20, 3]);
    const bytes = await sharp(data, { raw: { width: 3, height: 2, channels: 1 } }).toColourspace('b-w').png().toBuffer();
    expect([...decodeIndexPng(bytes, 'g.png').data]).toEqual([...data]);
  });

  it('names the file of a corrupt PNG or an RGB "mask"', async () => {
    const f = join(tmp.dir, 'broken.png');
    const bytes = readFileSync(png('2007_000032'));
    writeFileSync(f, bytes.subarray(0, 300));
    expect(() => decodeIndexPng(readFileSync(f), f)).toThrow(new RegExp(`broken\\.png: corrupt PNG`));
    const flipped = Buffer.from(bytes);
    flipped[40] ^= 0xff; // inside IHDR/PLTE: CRC mismatch
    expect(() => decodeIndexPng(flipped, 'crc.png')).toThrow(/crc\.png: corrupt PNG/);
    const rgb = readFileSync(join(cocoSample, 'COCO_val2014_000000039769.png'));
    expect(() => decodeIndexPng(rgb, 'photo.png')).toThrow(/photo\.png: a mask must be an 8-bit palette or grayscale PNG/);
  });
});
