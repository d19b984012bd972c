// Palette/grayscale PNG with raw indices. pngjs parses and unfilters; we stop before its palette expansion
// (format-normaliser) so the numbers are the class indices, never colours.
import { createRequire } from 'node:module';
import { deflateSync } from 'node:zlib';
import { DataError } from '../errors.ts';
import type { IndexMap } from '../image.ts';
import { vocPalette } from './palette.ts';
import type { IndexPng } from './png-indices.ts';

export type { IndexPng } from './png-indices.ts';
export { vocPalette } from './palette.ts';

const require = createRequire(import.meta.url);
const Parser = require('pngjs/lib/parser.js');
const SyncReader = require('pngjs/lib/sync-reader.js');
const inflateSync = require('pngjs/lib/sync-inflate.js');
const FilterSync = require('pngjs/lib/filter-parse-sync.js');
const bitmapper = require('pngjs/lib/bitmapper.js');
const CrcCalculator = require('pngjs/lib/crc.js');

interface PngMeta {
  width: number;
  height: number;
  depth: number;
  bpp: number;
  colorType: number;
  interlace: boolean;
  palette?: number[][] | boolean;
}


/** Decodes an 8-bit-or-less palette or grayscale PNG to its raw indices. */
export function decodeIndexPng(bytes: Uint8Array, file: string): IndexPng {
  let meta: PngMeta | undefined;
  let err: Error | undefined;
  const chunks: Buffer[] = [];
  try {
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const reader = new SyncReader(buf);
    const parser = new Parser({}, {
      read: reader.read.bind(reader),
      error: (e: Error) => (err = e),
      metadata: (m: PngMeta) => (meta = m),
      gamma: () => {},
      palette: (p: number[][]) => meta && (meta.palette = p),
      transColor: () => {},
      inflateData: (d: Buffer) => chunks.push(d),
      simpleTransparency: () => {},
    });
    parser.start();
    reader.process();
  } catch (e) {
    err = e as Error;
  }
  if (err || !meta) throw new DataError(file, `corrupt PNG: ${err?.message ?? 'no header'}`, { cause: err });
  if ((meta.colorType !== 0 && meta.colorType !== 3) || meta.depth > 8) {
    throw new DataError(file, `a mask must be an 8-bit palette or grayscale PNG, got colour type ${meta.colorType} at ${meta.depth} bits`);
  }
  try {
    const rowSize = ((meta.width * meta.bpp * meta.depth + 7) >> 3) + 1;
    const all = Buffer.concat(chunks);
    const inflated: Buffer = meta.interlace
      ? require('node:zlib').inflateSync(all)
      : inflateSync(all, { chunkSize: rowSize * meta.height, maxLength: rowSize * meta.height });
    if (!inflated?.length) throw new Error('no image data');
    const unfiltered = FilterSync.process(inflated, meta);
    const rgba: Buffer = bitmapper.dataToBitMap(unfiltered, meta);
    const n = meta.width * meta.height;
    const data = new Uint8Array(n);
    for (let i = 0; i < n; i++) data[i] = rgba[4 * i]; // bitmapper copies the raw sample into every channel
    return { width: meta.width, height: meta.height, data, palette: Array.isArray(meta.palette) ? meta.palette : null };
  } catch (e) {
    throw new DataError(file, `corrupt PNG: ${e instanceof Error ? e.message : e}`, { cause: e });
  }
}

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  out.set(data, 8);
  const crc = new CrcCalculator();
  crc.write(out.subarray(4, 8 + data.length));
  out.writeInt32BE(crc.crc32(), 8 + data.length);
  return out;
}

/** Encodes indices as an 8-bit palette PNG (VOC colours by default); pngjs's packer cannot write palettes. */
export function encodeIndexPng(map: IndexMap, palette: Uint8Array = vocPalette()): Uint8Array {
  const { width, height, data } = map;
  if (data.length !== width * height) throw new Error(`index map of ${data.length} values for ${width}x${height}`);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 3, 0, 0, 0], 8);
  const raw = Buffer.alloc((width + 1) * height);
  for (let y = 0; y < height; y++) raw.set(data.subarray(y * width, (y + 1) * width), y * (width + 1) + 1);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('PLTE', palette),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', new Uint8Array(0)),
  ]);
}
