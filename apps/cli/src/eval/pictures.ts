// Pictures a person looks at: label maps in the VOC palette, CAM heat maps, overlays, and a contact sheet with
// one row per image: image | ground truth | CAM | prediction.
import { vocPalette } from '@seco/data';
import { Raster, type Rgb, textWidth } from '../run/raster.ts';

export interface RgbImage {
  width: number;
  height: number;
  /** HWC, 3 channels. */
  data: Uint8Array;
}
export interface LabelMap {
  width: number;
  height: number;
  data: Uint8Array;
}
export interface HeatMap {
  width: number;
  height: number;
  /** Values in [0, 1] (clamped). */
  data: Float32Array;
}

const PALETTE = vocPalette();

export function colorizeLabels(m: LabelMap, palette: Uint8Array = PALETTE): RgbImage {
  const out = new Uint8Array(m.width * m.height * 3);
  for (let i = 0; i < m.data.length; i++) for (let k = 0; k < 3; k++) out[i * 3 + k] = palette[m.data[i] * 3 + k];
  return { width: m.width, height: m.height, data: out };
}

/** The jet colour map (blue → cyan → yellow → red) as matplotlib draws it. */
export function jet(v: number): Rgb {
  const t = Math.min(1, Math.max(0, Number.isFinite(v) ? v : 0));
  const ch = (c: number) => Math.round(255 * Math.min(1, Math.max(0, 1.5 - Math.abs(4 * t - c))));
  return [ch(3), ch(2), ch(1)];
}

/** The heat map blended over the image (both at the image's size): 50% image, 50% jet. */
export function heatOverlay(img: RgbImage, cam: HeatMap, alpha = 0.5): RgbImage {
  sameSize(img, cam, 'CAM');
  const out = new Uint8Array(img.data.length);
  for (let i = 0; i < cam.data.length; i++) {
    const c = jet(cam.data[i]);
    for (let k = 0; k < 3; k++) out[i * 3 + k] = Math.round(img.data[i * 3 + k] * (1 - alpha) + c[k] * alpha);
  }
  return { width: img.width, height: img.height, data: out };
}

/** The prediction's colours over the image where it is not background (0) or ignore (255). */
export function labelOverlay(img: RgbImage, m: LabelMap, alpha = 0.55): RgbImage {
  sameSize(img, m, 'label map');
  const out = new Uint8Array(img.data);
  for (let i = 0; i < m.data.length; i++) {
    const v = m.data[i];
    if (v === 0 || v === 255) continue;
    for (let k = 0; k < 3; k++) out[i * 3 + k] = Math.round(img.data[i * 3 + k] * (1 - alpha) + PALETTE[v * 3 + k] * alpha);
  }
  return { width: img.width, height: img.height, data: out };
}

function sameSize(a: { width: number; height: number }, b: { width: number; height: number }, what: string): void {
  if (a.width !== b.width || a.height !== b.height) throw new Error(`${what} is ${b.width}x${b.height}, the image ${a.width}x${a.height}`);
}

/** Nearest-neighbour resize (label maps must not blend classes; for thumbnails it is good enough). */
export function resizeNearest(img: RgbImage, w: number, h: number): RgbImage {
  const out = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    const sy = Math.min(img.height - 1, Math.floor(((y + 0.5) * img.height) / h));
    for (let x = 0; x < w; x++) {
      const sx = Math.min(img.width - 1, Math.floor(((x + 0.5) * img.width) / w));
      for (let k = 0; k < 3; k++) out[(y * w + x) * 3 + k] = img.data[(sy * img.width + sx) * 3 + k];
    }
  }
  return { width: w, height: h, data: out };
}

export interface SheetRow {
  name: string;
  image: RgbImage;
  gt: LabelMap | null;
  cam: HeatMap | null;
  pred: LabelMap | null;
}

export const SHEET_COLUMNS = ['image', 'ground truth', 'CAM', 'prediction'] as const;

/** Tiles of `tile` pixels' height (width follows the image's aspect); a missing panel is left grey. */
export function contactSheet(rows: SheetRow[], o: { tile?: number } = {}): Raster {
  if (rows.length === 0) throw new Error('contactSheet: no rows');
  const th = o.tile ?? 160;
  const tw = Math.max(...rows.map((r) => Math.round((th * r.image.width) / r.image.height)));
  const pad = 4;
  const head = 16;
  const panels = rows.map((r) => [r.image, r.gt && colorizeLabels(r.gt), r.cam && heatOverlay(r.image, r.cam), r.pred && colorizeLabels(r.pred)]);
  // A column no row has (no ground truth, no CAM) is left out rather than drawn as grey tiles.
  const cols = SHEET_COLUMNS.map((_, i) => i).filter((i) => panels.some((p) => p[i]));
  const sheet = new Raster(pad + cols.length * (tw + pad), head + rows.length * (th + pad + 12) + pad, [255, 255, 255]);
  cols.forEach((c, i) => sheet.text(pad + i * (tw + pad) + (tw - textWidth(SHEET_COLUMNS[c])) / 2, 5, SHEET_COLUMNS[c], [40, 40, 40]));
  rows.forEach((r, j) => {
    const y = head + j * (th + pad + 12);
    const w = Math.round((th * r.image.width) / r.image.height);
    cols.forEach((c, i) => {
      const x = pad + i * (tw + pad);
      const p = panels[j][c];
      if (p) sheet.blit(x, y, resizeNearest(p, w, th));
      else sheet.fillRect(x, y, w, th, [200, 200, 200]);
    });
    sheet.text(pad, y + th + 3, r.name, [40, 40, 40]);
  });
  return sheet;
}

export function rgbToPng(img: RgbImage): Buffer {
  const r = new Raster(img.width, img.height);
  r.blit(0, 0, img);
  return r.toPng();
}
