// sharp: native libjpeg-turbo shipped as npm prebuilt binaries. Measured on the VOC sample (one core):
// sharp 3.1 ms/image, @jsquash/jpeg (wasm) 1.9 ms, jpeg-js 10.6 ms. The wasm decoder is faster but aborts the
// whole module on CMYK or corrupt input ("Program terminated with exit(1)"); sharp converts CMYK and
// grayscale to sRGB and reports corruption as an error, which matters more than 1 ms next to augmentation.
import sharp from 'sharp';
import { DataError } from '../errors.ts';
import type { RgbImage } from '../image.ts';

// One libvips thread per decoder: the loader's parallelism comes from its worker pool.
sharp.concurrency(1);
sharp.cache(false);

export async function decodeImage(bytes: Uint8Array, file: string): Promise<RgbImage> {
  try {
    const { data, info } = await sharp(bytes, { failOn: 'error' })
      .toColourspace('srgb')
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels, expected RGB`);
    return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  } catch (e) {
    throw new DataError(file, `cannot decode image: ${e instanceof Error ? e.message.split('\n')[0] : e}`, { cause: e });
  }
}
