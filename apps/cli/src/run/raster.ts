// An RGBA picture to draw into (lines, rectangles, text, other pictures) and its PNG encoding through pngjs.
import { PNG } from 'pngjs';
import { glyph, GLYPH_H, GLYPH_W } from './font.ts';

export type Rgb = readonly [number, number, number];

export class Raster {
  readonly data: Uint8Array;

  constructor(
    readonly width: number,
    readonly height: number,
    background: Rgb = [255, 255, 255],
  ) {
    if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) throw new Error(`Raster: bad size ${width}x${height}`);
    this.data = new Uint8Array(width * height * 4);
    this.fillRect(0, 0, width, height, background);
  }

  setPixel(x: number, y: number, c: Rgb, alpha = 1): void {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const i = (y * this.width + x) * 4;
    for (let k = 0; k < 3; k++) this.data[i + k] = Math.round(this.data[i + k] * (1 - alpha) + c[k] * alpha);
    this.data[i + 3] = 255;
  }

  getPixel(x: number, y: number): [number, number, number, number] {
    const i = (y * this.width + x) * 4;
    return [this.data[i], this.data[i + 1], this.data[i + 2], this.data[i + 3]];
  }

  fillRect(x0: number, y0: number, w: number, h: number, c: Rgb): void {
    for (let y = Math.max(0, y0); y < Math.min(this.height, y0 + h); y++) {
      for (let x = Math.max(0, x0); x < Math.min(this.width, x0 + w); x++) this.setPixel(x, y, c);
    }
  }

  /** A line `thickness` pixels wide, by stepping along the longer axis. */
  line(x0: number, y0: number, x1: number, y1: number, c: Rgb, thickness = 1): void {
    const n = Math.max(1, Math.ceil(Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0))));
    const r = (thickness - 1) / 2;
    for (let i = 0; i <= n; i++) {
      const x = x0 + ((x1 - x0) * i) / n;
      const y = y0 + ((y1 - y0) * i) / n;
      for (let dy = -Math.floor(r); dy <= Math.ceil(r); dy++) for (let dx = -Math.floor(r); dx <= Math.ceil(r); dx++) this.setPixel(x + dx, y + dy, c);
    }
  }

  /** Text in the built-in 5x7 font, scaled by an integer factor; returns the width drawn. */
  text(x: number, y: number, s: string, c: Rgb, scale = 1): number {
    let cx = x;
    for (const ch of s) {
      const rows = glyph(ch);
      for (let gy = 0; gy < GLYPH_H; gy++) {
        for (let gx = 0; gx < GLYPH_W; gx++) {
          if (rows[gy] & (1 << (GLYPH_W - 1 - gx))) this.fillRect(cx + gx * scale, y + gy * scale, scale, scale, c);
        }
      }
      cx += (GLYPH_W + 1) * scale;
    }
    return cx - x;
  }

  /** Copies an RGB(A) image (HWC, 3 or 4 channels) with its top-left corner at (x, y). */
  blit(x: number, y: number, src: { width: number; height: number; data: Uint8Array | Uint8ClampedArray }, channels = 3): void {
    for (let sy = 0; sy < src.height; sy++) {
      for (let sx = 0; sx < src.width; sx++) {
        const i = (sy * src.width + sx) * channels;
        this.setPixel(x + sx, y + sy, [src.data[i], src.data[i + 1], src.data[i + 2]]);
      }
    }
  }

  toPng(): Buffer {
    const png = new PNG({ width: this.width, height: this.height });
    png.data = Buffer.from(this.data.buffer, this.data.byteOffset, this.data.byteLength);
    return PNG.sync.write(png);
  }
}

export function textWidth(s: string, scale = 1): number {
  return [...s].length * (GLYPH_W + 1) * scale;
}

export { GLYPH_H };
