import type { RgbImage } from '../image.ts';

/**
 * What every platform's image decoder provides. Chosen by package.json export conditions (#decode):
 * Node uses sharp (libjpeg-turbo, libspng), browsers use createImageBitmap + OffscreenCanvas.
 */
export type DecodeImage = (bytes: Uint8Array, file: string) => Promise<RgbImage>;
