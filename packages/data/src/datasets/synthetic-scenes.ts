// Procedural scenes for the synthetic co-occurrence set: each foreground class has a shape and a context
// texture that usually appears with it but is background in the mask (as boats with water, trains with rails).
import type { Rng } from '../rng.ts';

export interface Canvas {
  size: number;
  rgb: Uint8Array;
  mask: Uint8Array;
}

type Rgb = [number, number, number];

export interface SceneClass {
  name: string;
  context: string;
  /** Where the context band sits: the top (sky) or the bottom (water, rails, grass, road) of the picture. */
  contextAt: 'top' | 'bottom';
  drawContext(c: Canvas, y0: number, y1: number, rng: Rng): void;
  /** Object whose bounding box is (x, y, w, h); writes mask value `value`. */
  drawObject(c: Canvas, x: number, y: number, w: number, h: number, value: number, rng: Rng): void;
}

function put(c: Canvas, x: number, y: number, col: Rgb, value: number | null): void {
  if (x < 0 || y < 0 || x >= c.size || y >= c.size) return;
  const i = y * c.size + x;
  c.rgb[3 * i] = col[0];
  c.rgb[3 * i + 1] = col[1];
  c.rgb[3 * i + 2] = col[2];
  if (value !== null) c.mask[i] = value;
}

function clampByte(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
}

function jitter(col: Rgb, rng: Rng, amount: number): Rgb {
  return col.map((v) => clampByte(v + rng.uniform(-amount, amount))) as Rgb;
}

/** Fills pixels of the box whose centre satisfies `inside`. */
function fillShape(c: Canvas, x0: number, y0: number, w: number, h: number, inside: (u: number, v: number) => boolean, colour: (x: number, y: number) => Rgb, value: number | null): void {
  for (let y = Math.max(0, Math.floor(y0)); y < Math.min(c.size, Math.ceil(y0 + h)); y++) {
    for (let x = Math.max(0, Math.floor(x0)); x < Math.min(c.size, Math.ceil(x0 + w)); x++) {
      const u = (x + 0.5 - x0) / w, v = (y + 0.5 - y0) / h; // 0..1 inside the box
      if (inside(u, v)) put(c, x, y, colour(x, y), value);
    }
  }
}

function band(c: Canvas, y0: number, y1: number, colour: (x: number, y: number) => Rgb): void {
  for (let y = Math.max(0, y0); y < Math.min(c.size, y1); y++) for (let x = 0; x < c.size; x++) put(c, x, y, colour(x, y), null);
}

const ellipse = (u: number, v: number) => (u - 0.5) ** 2 + (v - 0.5) ** 2 <= 0.25;

export const SCENE_CLASSES: SceneClass[] = [
  {
    name: 'boat',
    context: 'water',
    contextAt: 'bottom',
    drawContext(c, y0, y1, rng) {
      const phase = rng.uniform(0, 6.3), f = rng.uniform(0.3, 0.6);
      band(c, y0, y1, (x, y) => {
        const wave = Math.sin(x * f + phase + y * 0.9) * 0.5 + 0.5;
        return [clampByte(20 + 25 * wave), clampByte(70 + 40 * wave), clampByte(150 + 70 * wave)];
      });
    },
    drawObject(c, x, y, w, h, value, rng) {
      const hull = jitter([200, 40, 40], rng, 25);
      // Trapezoid hull (wide at the top) under a white cabin.
      fillShape(c, x, y + h * 0.5, w, h * 0.5, (u, v) => u >= 0.2 * v && u <= 1 - 0.2 * v, () => hull, value);
      fillShape(c, x + w * 0.3, y + h * 0.1, w * 0.35, h * 0.42, () => true, () => [235, 235, 225], value);
    },
  },
  {
    name: 'train',
    context: 'rails',
    contextAt: 'bottom',
    drawContext(c, y0, y1, rng) {
      const gap = Math.max(3, Math.round(rng.uniform(4, 7)));
      band(c, y0, y1, (x, y) => {
        const rail = (y - y0) % Math.max(4, Math.round((y1 - y0) / 3)) === 0;
        if (rail) return [170, 170, 180];
        return x % gap === 0 ? [100, 60, 30] : [120, 110, 95];
      });
    },
    drawObject(c, x, y, w, h, value, rng) {
      const body = jitter([230, 190, 30], rng, 25);
      fillShape(c, x, y + h * 0.3, w, h * 0.6, () => true, (px, py) => {
        const win = (py - y) / h < 0.55 && (py - y) / h > 0.4 && Math.floor((px - x) / Math.max(2, w / 6)) % 2 === 0;
        return win ? [40, 60, 90] : body;
      }, value);
    },
  },
  {
    name: 'aeroplane',
    context: 'sky',
    contextAt: 'top',
    drawContext(c, y0, y1, rng) {
      const cx = rng.uniform(0, c.size), cy = rng.uniform(y0, y1), r = rng.uniform(6, 14);
      band(c, y0, y1, (x, y) => {
        const cloud = (x - cx) ** 2 / 4 + (y - cy) ** 2 < r * r;
        return cloud ? [245, 245, 250] : [clampByte(120 + (y - y0)), clampByte(170 + (y - y0) * 0.5), 235];
      });
    },
    drawObject(c, x, y, w, h, value, rng) {
      const body = jitter([235, 120, 40], rng, 15);
      fillShape(c, x, y + h * 0.4, w, h * 0.2, ellipse, () => body, value); // fuselage
      fillShape(c, x + w * 0.35, y, w * 0.18, h, (u, v) => Math.abs(v - 0.5) < 0.5 - 0.3 * u, () => body, value); // wings
      fillShape(c, x, y + h * 0.2, w * 0.12, h * 0.3, () => true, () => body, value); // tail
    },
  },
  {
    name: 'cow',
    context: 'grass',
    contextAt: 'bottom',
    drawContext(c, y0, y1, rng) {
      const seed = rng.int(1 << 30);
      band(c, y0, y1, (x, y) => {
        const n = hashNoise(x, y, seed);
        return [clampByte(40 + 30 * n), clampByte(120 + 70 * n), clampByte(30 + 20 * n)];
      });
    },
    drawObject(c, x, y, w, h, value, rng) {
      const sx = rng.uniform(0.2, 0.7), sy = rng.uniform(0.2, 0.6);
      const hide = jitter([125, 75, 40], rng, 15);
      fillShape(c, x, y + h * 0.15, w * 0.85, h * 0.6, ellipse, (px, py) => {
        const u = (px - x) / w, v = (py - y) / h;
        return (u - sx) ** 2 + (v - sy) ** 2 < 0.02 ? [240, 240, 235] : hide;
      }, value);
      fillShape(c, x + w * 0.75, y, w * 0.25, h * 0.35, ellipse, () => hide, value); // head
      for (const lx of [0.15, 0.6]) fillShape(c, x + w * lx, y + h * 0.65, w * 0.1, h * 0.35, () => true, () => [60, 50, 45], value);
    },
  },
  {
    name: 'car',
    context: 'road',
    contextAt: 'bottom',
    drawContext(c, y0, y1) {
      const mid = Math.round((y0 + y1) / 2);
      band(c, y0, y1, (x, y) => (y === mid && x % 8 < 4 ? [240, 240, 240] : [70, 70, 75]));
    },
    drawObject(c, x, y, w, h, value, rng) {
      const body = jitter([130, 40, 170], rng, 30);
      fillShape(c, x, y + h * 0.35, w, h * 0.4, () => true, () => body, value);
      fillShape(c, x + w * 0.2, y + h * 0.05, w * 0.55, h * 0.35, (u, v) => u > 0.25 * (1 - v) && u < 1 - 0.25 * (1 - v), () => [170, 210, 230], value);
      for (const wx of [0.1, 0.65]) fillShape(c, x + w * wx, y + h * 0.6, w * 0.25, h * 0.4, ellipse, () => [20, 20, 20], value);
    },
  },
  {
    name: 'fish',
    context: 'reef',
    contextAt: 'bottom',
    drawContext(c, y0, y1, rng) {
      const seed = rng.int(1 << 30);
      band(c, y0, y1, (x, y) => (hashNoise(x >> 2, y >> 2, seed) > 0.6 ? [230, 110, 150] : [30, 90, 120]));
    },
    drawObject(c, x, y, w, h, value, rng) {
      const body = jitter([250, 140, 20], rng, 20);
      fillShape(c, x, y + h * 0.2, w * 0.75, h * 0.6, ellipse, () => body, value);
      fillShape(c, x + w * 0.7, y + h * 0.15, w * 0.3, h * 0.7, (u, v) => Math.abs(v - 0.5) < 0.5 * u, () => body, value);
    },
  },
];

/** Deterministic value noise in [0, 1) from integer coordinates. */
export function hashNoise(x: number, y: number, seed: number): number {
  let h = Math.imul(x, 374761393) + Math.imul(y, 668265263) + Math.imul(seed, 982451653);
  h = Math.imul(h ^ (h >>> 13), 1274126177);
  return ((h ^ (h >>> 16)) >>> 0) / 4294967296;
}

/** Muted clutter so the background is not a constant a classifier could key on. */
export function drawClutter(c: Canvas, rng: Rng): void {
  const base: Rgb = [rng.uniform(90, 170), rng.uniform(90, 170), rng.uniform(90, 170)].map(Math.round) as Rgb;
  const seed = rng.int(1 << 30);
  const cell = 2 + rng.int(6);
  for (let y = 0; y < c.size; y++) {
    for (let x = 0; x < c.size; x++) {
      const n = hashNoise(Math.floor(x / cell), Math.floor(y / cell), seed) - 0.5;
      put(c, x, y, [clampByte(base[0] + 40 * n), clampByte(base[1] + 40 * n), clampByte(base[2] + 40 * n)], 0);
    }
  }
}
