// The browser's mask decoder (no node:*, fflate) against the Node one (pngjs) on real masks and on PNG
// variants the VOC set does not use (low bit depths, Adam7, filters), and its errors.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeIndexPng as decodeWeb } from '../src/codecs/png-indices.ts';
import { decodeIndexPng as decodeNode, encodeIndexPng } from '../src/codecs/png.ts';
import { cocoSample, vocFull, vocRoot } from './helpers.ts';

function same(bytes: Uint8Array, name: string) {
  const a = decodeWeb(bytes, name);
  const b = decodeNode(bytes, name);
  expect([a.width, a.height], name).toEqual([b.width, b.height]);
  expect(Buffer.from(a.data).equals(Buffer.from(b.data)), name).toBe(true);
  expect(a.palette, name).toEqual(b.palette);
}

describe('palette PNG indices without node:* (browser path)', () => {
  it('equals the Node decoder on every VOC sample mask, the labelme masks and 200 val masks', () => {
    const dirs = [join(vocRoot, 'SegmentationClassAug'), join(vocRoot, 'labelme_SegmentationClass')];
    let n = 0;
    for (const d of dirs) for (const f of readdirSync(d).filter((x) => x.endsWith('.png'))) same(readFileSync(join(d, f)), f), n++;
    const val = join(vocFull, 'SegmentationClassAug_val');
    for (const f of readdirSync(val).sort().slice(0, 200)) same(readFileSync(join(val, f)), f), n++;
    expect(n).toBe(51 + 3 + 200);
  });

  it('equals it on 1/2/4-bit palettes, 8-bit grayscale, Adam7 interlacing and our own encoder', async () => {
    const w = 37, h = 23;
    // libspng picks the bit depth from the palette size: 2, 4, 16 and 200 colours give 1, 2, 4 and 8 bits.
    for (const [depth, levels] of [[1, 2], [2, 4], [4, 16], [8, 200]]) {
      for (const progressive of [false, true]) {
        const rgb = Buffer.alloc(w * h * 3);
        for (let i = 0; i < w * h; i++) rgb.fill(((i * 7 + (i % w)) % levels) * Math.floor(255 / levels), i * 3, i * 3 + 3);
        const bytes = await sharp(rgb, { raw: { width: w, height: h, channels: 3 } }).png({ palette: true, colours: levels, progressive, dither: 0 }).toBuffer();
        expect([bytes[24], bytes[25], bytes[28]], 'IHDR depth, colour type, interlace').toEqual([depth, 3, progressive ? 1 : 0]);
        same(bytes, `palette-${depth}-${progressive}`);
      }
    }
    const gray = Buffer.from(Array.from({ length: w * h }, (_, i) => (i * 13) % 256));
    for (const progressive of [false, true]) same(await sharp(gray, { raw: { width: w, height: h, channels: 1 } }).toColourspace('b-w').png({ progressive }).toBuffer(), 'gray');
    const m = decodeNode(readFileSync(join(vocRoot, 'SegmentationClassAug', '2007_000032.png')), 'm');
    same(encodeIndexPng(m), 'encoded');
  });

  it('names the file of a truncated PNG, a bad CRC, a non-PNG and an RGB "mask"', () => {
    const bytes = readFileSync(join(vocRoot, 'SegmentationClassAug', '2007_000032.png'));
    expect(() => decodeWeb(bytes.subarray(0, 300), 'cut.png')).toThrow(/^cut\.png: corrupt PNG/);
    const flipped = Buffer.from(bytes);
    flipped[40] ^= 0xff;
    expect(() => decodeWeb(flipped, 'crc.png')).toThrow(/crc\.png: corrupt PNG: CRC mismatch/);
    expect(() => decodeWeb(new TextEncoder().encode('plain text'), 'a.png')).toThrow(/a\.png: corrupt PNG: not a PNG/);
    const rgb = readFileSync(join(cocoSample, 'COCO_val2014_000000039769.png'));
    expect(() => decodeWeb(rgb, 'photo.png')).toThrow(/photo\.png: a mask must be an 8-bit palette or grayscale PNG/);
  });
});
