// sharp: native libjpeg-turbo shipped as npm prebuilt binaries. Measured on the VOC sample (one core):
// sharp 3.1 ms/image, @jsquash/jpeg (wasm) 1.9 ms, jpeg-js 10.6 ms. The wasm decoder is faster but aborts the
// whole module on CMYK or corrupt input ("Program terminated with exit(1)"); sharp converts CMYK and
// grayscale to sRGB and reports corruption as an error, which matters more than 1 ms next to augmentation.
import sharp from 'sharp';
import { DataError } from '../errors.ts';
import { describeDamage } from './damage.ts';
import type { RgbImage } from '../image.ts';

// One libvips thread per decoder: the loader's parallelism comes from its worker pool.
sharp.concurrency(1);
sharp.cache(false);

async function decodeRgb(bytes: Uint8Array): Promise<RgbImage> {
  const { data, info } = await sharp(bytes, { failOn: 'error' })
    .toColourspace('srgb')
    .removeAlpha()
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels, expected RGB`);
  return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

const firstLine = (e: unknown) => (e instanceof Error ? e.message.split('\n')[0] : String(e));

// libvips keeps its error text in one buffer per process, and sharp clears it after every decode, so a decode
// running at the same time (the loader runs several, in several worker threads) can wipe a failing one's
// reason before sharp copies it: sharp then says "Unknown error", or "...corrupt header: " with nothing after.
const lostReason = (m: string) => m === 'Unknown error' || /:\s*$/.test(m);
const RETRIES = 2;

export async function decodeImage(bytes: Uint8Array, file: string): Promise<RgbImage> {
  let reason = '';
  let cause: unknown;
  for (let attempt = 0; attempt <= RETRIES; attempt++) {
    try {
      return await decodeRgb(bytes);
    } catch (e) {
      cause ??= e;
      reason = firstLine(e);
      if (!lostReason(reason)) break;
    }
  }
  // Still no reason from the decoder after retrying: say what the bytes show.
  if (lostReason(reason)) reason = `${reason.replace(/:\s*$/, '')} (libvips gave no reason); ${describeDamage(bytes) ?? 'its JPEG/PNG structure looks complete'}`;
  throw new DataError(file, `cannot decode image: ${reason}`, { cause });
}
