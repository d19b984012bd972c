// The loss curves of a run as a PNG: one line per series over iterations, axes with ticks, and a legend.
// The y axis is logarithmic when every value is positive (loss terms differ by orders of magnitude).
import { GLYPH_H, Raster, type Rgb, textWidth } from './raster.ts';

export interface Series {
  name: string;
  /** [iteration, value] pairs; non-finite values break the line. */
  points: [number, number][];
}

const COLORS: Rgb[] = [
  [31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189],
  [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207],
];
export const seriesColor = (i: number): Rgb => COLORS[i % COLORS.length];

const INK: Rgb = [40, 40, 40];
const GRID: Rgb = [225, 225, 225];

function niceTicks(lo: number, hi: number, n: number): number[] {
  if (hi <= lo) return [lo];
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function label(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(0).replace('e+', 'e');
  return String(Number(v.toPrecision(3)));
}

export function plotLosses(series: Series[], o: { width?: number; height?: number; title?: string } = {}): Raster {
  const W = o.width ?? 800;
  const H = o.height ?? 480;
  const img = new Raster(W, H);
  const left = 64, right = W - 150, top = 30, bottom = H - 40;
  const pts = series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  if (o.title) img.text(left, 10, o.title, INK, 2);
  img.line(left, bottom, right, bottom, INK);
  img.line(left, top, left, bottom, INK);
  if (pts.length === 0) {
    img.text(left + 10, (top + bottom) / 2, 'no data', INK, 2);
    return img;
  }
  const log = pts.every(([, y]) => y > 0);
  const fy = (y: number) => (log ? Math.log10(y) : y);
  let x0 = Math.min(...pts.map((p) => p[0]));
  let x1 = Math.max(...pts.map((p) => p[0]));
  let y0 = Math.min(...pts.map((p) => fy(p[1])));
  let y1 = Math.max(...pts.map((p) => fy(p[1])));
  if (x1 === x0) [x0, x1] = [x0 - 1, x1 + 1];
  if (y1 === y0) [y0, y1] = [y0 - 0.5, y1 + 0.5];
  if (log) [y0, y1] = [Math.floor(y0), Math.ceil(y1)];
  const px = (x: number) => left + ((x - x0) / (x1 - x0)) * (right - left);
  const py = (y: number) => bottom - ((fy(y) - y0) / (y1 - y0)) * (bottom - top);

  for (const t of niceTicks(x0, x1, 6)) {
    const x = px(t);
    img.line(x, top, x, bottom - 1, GRID);
    img.line(x, bottom, x, bottom + 4, INK);
    const s = label(t);
    img.text(x - textWidth(s) / 2, bottom + 8, s, INK);
  }
  const yTicks = log ? Array.from({ length: y1 - y0 + 1 }, (_, i) => 10 ** (y0 + i)) : niceTicks(y0, y1, 6);
  for (const t of yTicks) {
    const y = py(t);
    img.line(left + 1, y, right, y, GRID);
    img.line(left - 4, y, left, y, INK);
    const s = label(t);
    img.text(left - 7 - textWidth(s), y - GLYPH_H / 2, s, INK);
  }
  const xl = 'iteration';
  img.text((left + right) / 2 - textWidth(xl) / 2, bottom + 22, xl, INK);

  series.forEach((s, i) => {
    const c = seriesColor(i);
    let prev: [number, number] | null = null;
    for (const [x, y] of s.points) {
      if (!Number.isFinite(x) || !Number.isFinite(y) || (log && y <= 0)) {
        prev = null;
        continue;
      }
      const p: [number, number] = [px(x), py(y)];
      if (prev) img.line(prev[0], prev[1], p[0], p[1], c, 2);
      else img.setPixel(p[0], p[1], c);
      prev = p;
    }
    const ly = top + 4 + i * 14;
    img.fillRect(right + 12, ly, 14, 7, c);
    img.text(right + 32, ly, s.name, INK);
  });
  return img;
}
