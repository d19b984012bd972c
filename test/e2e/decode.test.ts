// JPEG decoding in Chromium (createImageBitmap, no colour-space conversion, no premultiplication, read back
// through an OffscreenCanvas) against the Node path (sharp / libjpeg-turbo) on every VOC sample image: the page's
// pixels are the CLI's pixels, which the equal mIoU relies on.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeImage } from '@seco/data';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { type Browser, launchChromium } from './support/chromium.ts';
import { serveDecodePage } from './support/decode-page.ts';
import { vocSample } from './support/train.ts';
import type { WebServer } from './support/web-server.ts';

let server: WebServer;
let browser: Browser;
beforeAll(async () => {
  server = await serveDecodePage();
  browser = await launchChromium({ webgpu: false });
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

test('Chromium decodes the 51 VOC sample JPEGs to the same RGB bytes as sharp', async () => {
  const dir = join(vocSample, 'VOC2012', 'JPEGImages');
  const files = readdirSync(dir).filter((f) => f.endsWith('.jpg')).sort();
  expect(files).toHaveLength(51);
  const page = await browser.context.newPage();
  await page.goto(server.url);
  await page.setInputFiles('#files', files.map((f) => join(dir, f)));
  const web = await page.evaluate(() => (globalThis as unknown as { decodeAll: () => Promise<{ name: string; width: number; height: number; sha256: string }[]> }).decodeAll());
  const differ: string[] = [];
  for (const w of web) {
    const node = await decodeImage(readFileSync(join(dir, w.name)), w.name);
    expect([w.width, w.height], w.name).toEqual([node.width, node.height]);
    if (createHash('sha256').update(node.data).digest('hex') === w.sha256) continue;
    // Where and by how much, for the report.
    const b64 = await page.evaluate((n) => (globalThis as unknown as { pixels: (n: string) => string }).pixels(n), w.name);
    const px = Buffer.from(b64, 'base64');
    let count = 0;
    let max = 0;
    for (let i = 0; i < px.length; i++) {
      const d = Math.abs(px[i] - node.data[i]);
      if (d) count++;
      max = Math.max(max, d);
    }
    differ.push(`${w.name}: ${count} of ${px.length} values differ, by at most ${max}`);
  }
  expect(differ).toEqual([]);
  await page.close();
});
