// Pictures on canvases: the image, label maps in the VOC palette over it, and CAM heat maps (jet, as the CLI's
// contact sheet draws them).
import { type IndexMap, type RgbImage, vocPalette } from '@seco/data/web';
import type { ClassCams } from '@seco/models';

export const PALETTE = vocPalette();

export const colorOf = (c: number): [number, number, number] => [PALETTE[c * 3], PALETTE[c * 3 + 1], PALETTE[c * 3 + 2]];

/** matplotlib's jet: blue → cyan → yellow → red, for v in [0, 1]. */
export function jet(v: number): [number, number, number] {
  const t = Math.min(1, Math.max(0, Number.isFinite(v) ? v : 0));
  const ch = (c: number) => Math.round(255 * Math.min(1, Math.max(0, 1.5 - Math.abs(4 * t - c))));
  return [ch(3), ch(2), ch(1)];
}

export function drawRgb(canvas: HTMLCanvasElement, width: number, height: number, rgb: (i: number, out: Uint8ClampedArray, o: number) => void): void {
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d')!;
  const img = ctx.createImageData(width, height);
  const d = img.data;
  for (let i = 0, o = 0; i < width * height; i++, o += 4) {
    rgb(i, d, o);
    d[o + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

export function drawImage(canvas: HTMLCanvasElement, im: RgbImage): void {
  drawRgb(canvas, im.width, im.height, (i, d, o) => {
    d[o] = im.data[i * 3];
    d[o + 1] = im.data[i * 3 + 1];
    d[o + 2] = im.data[i * 3 + 2];
  });
}

/** Classes in the palette over the photo (alpha 0.55), background and ignore (255) left as the photo. */
export function drawLabelOverlay(canvas: HTMLCanvasElement, im: RgbImage, m: IndexMap, alpha = 0.55): void {
  drawRgb(canvas, im.width, im.height, (i, d, o) => {
    const v = m.data[i];
    for (let k = 0; k < 3; k++) {
      const p = im.data[i * 3 + k];
      d[o + k] = v === 0 || v === 255 ? p : Math.round(p * (1 - alpha) + PALETTE[v * 3 + k] * alpha);
    }
  });
}

/** A ground-truth mask in the palette (ignore in white, as VOC draws its borders). */
export function drawLabels(canvas: HTMLCanvasElement, m: IndexMap): void {
  drawRgb(canvas, m.width, m.height, (i, d, o) => {
    const v = m.data[i];
    for (let k = 0; k < 3; k++) d[o + k] = v === 255 ? 255 : PALETTE[v * 3 + k];
  });
}

/** The strongest CAM among the shown foreground classes at each pixel, as jet blended 50% over the photo. */
export function drawCamOverlay(canvas: HTMLCanvasElement, im: RgbImage, cams: ClassCams, shown: readonly number[]): void {
  const n = cams.width * cams.height;
  drawRgb(canvas, im.width, im.height, (i, d, o) => {
    let v = 0;
    for (const c of shown) v = Math.max(v, cams.data[c * n + i]);
    const [r, g, b] = jet(v);
    d[o] = Math.round(im.data[i * 3] * 0.5 + r * 0.5);
    d[o + 1] = Math.round(im.data[i * 3 + 1] * 0.5 + g * 0.5);
    d[o + 2] = Math.round(im.data[i * 3 + 2] * 0.5 + b * 0.5);
  });
}

/** Classes that occur in a label map (0..C, 255 excluded), ascending. */
export function classesIn(m: IndexMap): number[] {
  const seen = new Uint8Array(256);
  for (const v of m.data) seen[v] = 1;
  const out: number[] = [];
  for (let c = 0; c < 255; c++) if (seen[c]) out.push(c);
  return out;
}
