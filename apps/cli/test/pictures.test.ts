import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeIndexPng, vocPalette } from '@seco/data';
import { ConfusionMatrix } from '@seco/models';
import { PNG } from 'pngjs';
import { describe, expect, test } from 'vitest';
import type { EvalSample } from '../src/dataset.ts';
import { evaluate, writeInference } from '../src/eval/evaluate.ts';
import { formatIouMarkdown, formatIouText, iouReport } from '../src/eval/iou-report.ts';
import { colorizeLabels, contactSheet, heatOverlay, jet, labelOverlay } from '../src/eval/pictures.ts';
import { plotLosses } from '../src/run/loss-plot.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'seco-cli-pics-'));
const pal = vocPalette();

/** A w×h image of a horizontal gradient, a label map with a square of class `c`. */
function sample(id: string, w: number, h: number, c: number): EvalSample {
  const image = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) image.fill(Math.round((255 * (i % w)) / w), i * 3, i * 3 + 3);
  const gt = new Uint8Array(w * h);
  for (let y = 2; y < 8; y++) for (let x = 2; x < 8; x++) gt[y * w + x] = c;
  gt[0] = 255;
  return { id, image: { width: w, height: h, data: image }, gt: { width: w, height: h, data: gt }, labels: [c - 1] };
}

describe('pictures', () => {
  test('labels in the VOC palette; jet ends blue and red; overlays leave background alone', () => {
    const m = { width: 2, height: 1, data: Uint8Array.from([0, 15]) };
    expect(Array.from(colorizeLabels(m).data)).toEqual([0, 0, 0, ...pal.slice(45, 48)]);
    expect(jet(0)).toEqual([0, 0, 128]);
    expect(jet(1)).toEqual([128, 0, 0]);
    expect(jet(0.5)).toEqual([128, 255, 128]);
    const img = { width: 2, height: 1, data: Uint8Array.from([100, 100, 100, 100, 100, 100]) };
    const o = labelOverlay(img, m, 0.5);
    expect(Array.from(o.data.slice(0, 3))).toEqual([100, 100, 100]);
    expect(Array.from(o.data.slice(3))).toEqual([...pal.slice(45, 48)].map((v) => Math.round(50 + v / 2)));
    const h = heatOverlay(img, { width: 2, height: 1, data: Float32Array.from([0, 1]) }, 0.5);
    expect(Array.from(h.data)).toEqual([50, 50, 114, 114, 50, 50]);
    expect(() => labelOverlay(img, { width: 1, height: 1, data: new Uint8Array(1) })).toThrow('label map is 1x1, the image 2x1');
  });

  test('contact sheet: panels in order, grey where one row lacks a panel, a column no row has left out', () => {
    const s = sample('a', 10, 10, 1);
    const cam = { width: 10, height: 10, data: new Float32Array(100).fill(1) };
    const sheet = contactSheet([
      { name: 'a', image: s.image, gt: s.gt, cam: null, pred: s.gt },
      { name: 'b', image: s.image, gt: s.gt, cam, pred: s.gt },
    ], { tile: 10 });
    const pad = 4;
    const head = 16;
    const at = (col: number, row: number, x: number, y: number) => sheet.getPixel(pad + col * (10 + pad) + x, head + row * (10 + pad + 12) + y).slice(0, 3);
    expect(sheet.width).toBe(pad + 4 * (10 + pad));
    expect(at(0, 0, 5, 5)).toEqual([128, 128, 128]); // image gradient
    expect(at(1, 0, 5, 5)).toEqual([...pal.slice(3, 6)]); // GT class 1
    expect(at(2, 0, 5, 5)).toEqual([200, 200, 200]); // no CAM in this row
    expect(at(2, 1, 5, 5)).not.toEqual([200, 200, 200]); // the other row's CAM
    expect(at(3, 0, 9, 9)).toEqual([0, 0, 0]); // prediction background
    const png = PNG.sync.read(sheet.toPng());
    expect([png.width, png.height]).toEqual([sheet.width, sheet.height]);

    const noCam = contactSheet([{ name: 'a', image: s.image, gt: s.gt, cam: null, pred: s.gt }], { tile: 10 });
    expect(noCam.width).toBe(pad + 3 * (10 + pad));
    expect(noCam.getPixel(pad + 2 * (10 + pad) + 9, head + 9).slice(0, 3)).toEqual([0, 0, 0]); // prediction is third
  });

  test('loss plot: a line per series in its legend colour, log axis for positive values', () => {
    const img = plotLosses([
      { name: 'cls', points: [[0, 1], [10, 0.1]] },
      { name: 'reg', points: [[0, 1e-6], [10, NaN]] },
    ]);
    const blue = [31, 119, 180];
    let bluePixels = 0;
    for (let y = 0; y < img.height; y++) for (let x = 0; x < img.width; x++) if (img.getPixel(x, y).slice(0, 3).join() === blue.join()) bluePixels++;
    expect(bluePixels).toBeGreaterThan(500); // the cls line and its legend swatch
    expect(plotLosses([]).width).toBe(800);
  });
});

describe('evaluation outputs', () => {
  test('IoU table as text, markdown and JSON agrees with ConfusionMatrix', async () => {
    const names = ['background', 'aeroplane', 'bicycle', 'bird'];
    const samples = [sample('img1', 12, 10, 1), sample('img2', 12, 10, 3)];
    // A predictor that gets img1 right and calls img2's bird a bicycle.
    const predict = async (s: EvalSample) => {
      const data = Uint8Array.from(s.gt!.data, (v) => (v === 255 ? 0 : v === 3 ? 2 : v));
      return { pred: { width: 12, height: 10, data }, cam: { width: 12, height: 10, data: Float32Array.from(s.gt!.data, (v) => (v === 0 ? 0 : 1)) } };
    };
    const out = tmp();
    const { report, text, files } = await evaluate({ samples, predict, classNames: names, outDir: out });
    const cm = new ConfusionMatrix(4);
    for (const s of samples) cm.add(s.gt!.data, (await predict(s)).pred.data);
    expect(report.miou).toBeCloseTo(cm.scores().miou, 12);
    expect(report.classes.map((c) => c.iou)).toEqual([1, 1, 0, 0]);
    expect(report.classes.map((c) => c.in_ground_truth)).toEqual([true, true, false, true]);
    expect(report.miou).toBeCloseTo(2 / 3, 12);
    expect(text).toContain('\nbicycle       0.00  (not in ground truth)\n');
    expect(text).toContain('\nmIoU         66.67\n');
    expect(readFileSync(join(out, 'iou.md'), 'utf8')).toBe(formatIouMarkdown(report));
    expect(JSON.parse(readFileSync(join(out, 'iou.json'), 'utf8')).miou).toBeCloseTo(2 / 3, 12);
    expect(readdirSync(join(out, 'pred')).sort()).toEqual(['img1.png', 'img2.png']);
    const p = decodeIndexPng(readFileSync(join(out, 'pred', 'img2.png')), 'img2.png');
    expect(p.data[3 * 12 + 3]).toBe(2);
    expect(p.palette?.[2]?.slice(0, 3)).toEqual([...pal.slice(6, 9)]);
    expect(files).toContain(join(out, 'sheet.png'));
    expect(formatIouText(iouReport(cm, names, 2))).toBe(text);
  });

  test('a prediction of the wrong size is an error naming the image; infer writes mask and overlay', async () => {
    const s = sample('x', 12, 10, 2);
    await expect(
      evaluate({ samples: [s], predict: async () => ({ pred: { width: 5, height: 5, data: new Uint8Array(25) } }), classNames: ['bg', 'a', 'b'], outDir: tmp() }),
    ).rejects.toThrow('prediction for x is 5x5, the image 12x10');
    const out = tmp();
    const files = await writeInference(out, 'x', s.image, s.gt!);
    expect(files).toEqual([join(out, 'x.png'), join(out, 'x_overlay.png')]);
    expect(Array.from(decodeIndexPng(readFileSync(files[0]), 'x.png').data)).toEqual(Array.from(s.gt!.data));
    expect(PNG.sync.read(readFileSync(files[1])).width).toBe(12);
  });
});
