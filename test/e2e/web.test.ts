// The page in headless Chromium (software WebGPU) evaluates the real VOC sample with a checkpoint trained in
// this test, and must give the CLI's numbers: the same confusion matrix, hence the same mIoU and per-class IoU.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SECO_CHECKPOINT_FORMAT } from '@seco/models';
import * as T from '@seco/tensor';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type Browser, launchChromium } from './support/chromium.ts';
import { type CliEval, cliEval, removeTmp, SETS, tmp, trainCheckpoint, vocSample } from './support/train.ts';
import { buildAndServe, type WebServer } from './support/web-server.ts';

const artifacts = fileURLToPath(new URL('../artifacts/', import.meta.url));

let server: WebServer;
let browser: Browser;
let checkpoint: string;
let cli: CliEval;

beforeAll(async () => {
  await T.init();
  const t0 = Date.now();
  checkpoint = await trainCheckpoint();
  const t1 = Date.now();
  cli = await cliEval(checkpoint);
  const t2 = Date.now();
  server = await buildAndServe();
  browser = await launchChromium({ webgpu: true });
  console.log(`train ${((t1 - t0) / 1000).toFixed(1)} s, CLI eval ${((t2 - t1) / 1000).toFixed(1)} s, build+serve ${((Date.now() - t2) / 1000).toFixed(1)} s`);
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  removeTmp();
});

async function openPage(b: Browser = browser): Promise<Page> {
  const page = await b.context.newPage();
  page.on('pageerror', (e) => console.log(`page error: ${e.message}`));
  await page.goto(server.url);
  await page.waitForSelector('#gpu-status:not([data-state="starting"])');
  return page;
}

describe('apps/web in Chromium', () => {
  test('evaluates the VOC val sample with the trained checkpoint: the CLI confusion matrix and mIoU, exactly', async () => {
    const page = await openPage();
    expect(await page.getAttribute('#gpu-status', 'data-state'), await page.textContent('#gpu-status') ?? '').toBe('ok');
    await page.setInputFiles('#ckpt-file', checkpoint);
    await page.waitForSelector('#model-info[data-state="loaded"], #messages li.problem');
    expect(await page.textContent('#model-info')).toContain('network built from the config stored in it');
    // The whole sample folder: 51 images, two mask folders, train and val lists; val and SegmentationClassAug are the defaults.
    await page.setInputFiles('#folder', vocSample);
    await page.waitForSelector('#data-info[data-state="picked"]');
    expect(await page.textContent('#data-info')).toMatch(/^51 images, 2 mask folders, 2 lists/);
    expect(await page.$eval('#list', (s) => (s as HTMLSelectElement).selectedOptions[0].textContent)).toMatch(/val\.txt \(22 ids\)/);
    expect(await page.$eval('#mask-folder', (s) => (s as HTMLSelectElement).selectedOptions[0].textContent)).toMatch(/SegmentationClassAug \(51 of the images\)/);
    // The options come from the checkpoint's config, as the CLI reads them.
    expect(await page.inputValue('#opt-size')).toBe('64');
    expect(await page.inputValue('#opt-scales')).toBe('1, 1.5');
    expect(await page.isChecked('#opt-flip')).toBe(true);
    expect(await page.isChecked('#opt-crf')).toBe(false);

    const t0 = Date.now();
    await page.click('#run');
    await page.waitForSelector('#progress-text[data-state="done"]', { timeout: 480_000 });
    const secs = (Date.now() - t0) / 1000;
    console.log(`page: ${await page.textContent('#progress-text')} (${secs.toFixed(1)} s)`);
    expect(await page.$$eval('#messages li.problem', (l) => l.map((x) => x.textContent))).toEqual([]);

    const hist = await page.$$eval('#confusion tbody tr', (rows) => rows.flatMap((r) => [...r.querySelectorAll('td')].map((td) => Number(td.textContent))));
    const diff = hist.map((v, i) => v - cli.hist[i]).filter((d) => d !== 0);
    console.log(`confusion matrix: ${diff.length} of ${hist.length} cells differ (sum |d| ${diff.reduce((a, d) => a + Math.abs(d), 0)})`);
    expect(hist).toEqual(cli.hist);
    const shown = (await page.textContent('#miou'))!;
    expect(shown).toBe(`${(100 * cli.report.miou).toFixed(2)}%`);
    expect(Number(await page.getAttribute('#miou', 'data-value'))).toBe(cli.report.miou);
    const table = await page.$$eval('#iou-body tr', (rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent)));
    expect(table.map((r) => r[1])).toEqual(cli.report.classes.map((c) => c.name));
    expect(table.map((r) => r[2]!.replace(' (absent)', ''))).toEqual(cli.report.classes.map((c) => (c.iou === null ? '-' : (100 * c.iou).toFixed(2))));
    expect(await page.$$eval('#images-body tr', (rows) => rows.map((r) => (r as HTMLElement).dataset.id))).toEqual(cli.ids);

    mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: join(artifacts, 'web-eval.png'), fullPage: true });
    await page.close();
  });

  test('with DenseCRF on (3 images): the CLI confusion matrix with eval.crf=true, exactly', async () => {
    const crf = await cliEval(checkpoint, { sets: [...SETS, 'eval.crf=true'], limit: 3 });
    const page = await openPage();
    await page.setInputFiles('#ckpt-file', checkpoint);
    await page.waitForSelector('#model-info[data-state="loaded"]');
    await page.setInputFiles('#folder', vocSample);
    await page.waitForSelector('#data-info[data-state="picked"]');
    await page.check('#opt-crf');
    await page.uncheck('#opt-cams');
    await page.fill('#limit', '3');
    await page.click('#run');
    await page.waitForSelector('#progress-text[data-state="done"]', { timeout: 240_000 });
    console.log(`page with CRF: ${await page.textContent('#progress-text')}`);
    const hist = await page.$$eval('#confusion tbody tr', (rows) => rows.flatMap((r) => [...r.querySelectorAll('td')].map((td) => Number(td.textContent))));
    expect(hist.reduce((a, b) => a + b, 0)).toBe(crf.hist.reduce((a, b) => a + b, 0));
    const diff = hist.map((v, i) => v - crf.hist[i]).filter((d) => d !== 0);
    console.log(`confusion matrix with CRF: ${diff.length} of ${hist.length} cells differ (sum |d| ${diff.reduce((a, d) => a + Math.abs(d), 0)})`);
    expect(hist).toEqual(crf.hist);
    // CRF changes the labels: the run really took the other path.
    expect(hist).not.toEqual(cli.hist);
    expect(await page.textContent('#miou')).toBe(`${(100 * crf.report.miou).toFixed(2)}%`);
    await page.close();
  });
});

describe('other ways in: a URL, drag and drop, a bare state_dict', () => {
  test('URL and drop load the checkpoint; a state_dict gets an inferred shape, and the heads chosen on the page give the CLI numbers', async () => {
    const bytes = readFileSync(checkpoint);
    // The checkpoint over HTTP from another origin (CORS), and a URL that is not there.
    const files = createServer((req, res) => {
      res.setHeader('access-control-allow-origin', '*');
      if (req.url === '/run.safetensors') res.end(bytes);
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => files.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
    try {
      const page = await openPage();
      await page.fill('#ckpt-url', `${base}/missing.safetensors`);
      await page.click('#ckpt-url-load');
      expect((await problemsAfter(page, 1))[0]).toBe(`${base}/missing.safetensors: cannot fetch (HTTP 404 Not Found)`);
      await page.fill('#ckpt-url', `${base}/run.safetensors`);
      await page.click('#ckpt-url-load');
      await page.waitForSelector('#model-info[data-state="loaded"]');
      expect(await page.textContent('#model-info strong')).toBe(`${base}/run.safetensors`);
      await page.close();
    } finally {
      files.close();
    }

    // Dropped on the page: a bare state_dict (the trained network's own tensors, no config).
    const ck = await T.loadCheckpoint(checkpoint, { format: SECO_CHECKPOINT_FORMAT });
    const sd: Record<string, T.HostTensor> = {};
    for (const [k, v] of Object.entries(ck.tensors)) if (k.startsWith('model.')) sd[k.slice(6)] = v;
    const state = join(tmp('state'), 'seco-state.safetensors');
    await T.writeSafetensors(state, sd);
    const page = await openPage();
    await page.evaluate(async (b64) => {
      const bin = atob(b64);
      const file = new File([Uint8Array.from(bin, (c) => c.charCodeAt(0))], 'seco-state.safetensors');
      const dt = new DataTransfer();
      dt.items.add(file);
      window.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, readFileSync(state).toString('base64'));
    await page.waitForSelector('#model-info[data-state="loaded"]');
    const info = (await page.textContent('#model-info'))!;
    expect(info).toContain('seco-state.safetensors (safetensors state_dict; network shape inferred from the tensor shapes)');
    expect(info).toContain('ViT: 2 blocks of width 32, 1 heads, patch 8, trained at 32 px; 20 classes + background');
    expect(info).toContain('assumed: attention heads: 1');
    expect(await page.inputValue('#opt-size')).toBe('448');
    // The person knows better: 2 heads, and the CLI's evaluation options.
    await page.fill('#heads', '2');
    await page.click('#heads-apply');
    await page.waitForFunction(() => document.querySelector('#model-info')?.textContent?.includes('2 heads'));
    await page.fill('#opt-size', '64');
    await page.fill('#opt-scales', '1, 1.5');
    await page.uncheck('#opt-cams');
    await page.fill('#limit', '3');
    await page.setInputFiles('#folder', vocSample);
    await page.waitForSelector('#data-info[data-state="picked"]');
    await page.click('#run');
    await page.waitForSelector('#progress-text[data-state="done"]', { timeout: 240_000 });
    const first3 = await cliEval(checkpoint, { limit: 3 });
    const hist = await page.$$eval('#confusion tbody tr', (rows) => rows.flatMap((r) => [...r.querySelectorAll('td')].map((td) => Number(td.textContent))));
    expect(hist).toEqual(first3.hist);
    await page.close();
  });
});

const problems = (page: Page) => page.$$eval('#messages li.problem', (l) => l.map((x) => x.textContent ?? ''));

/** Waits until the page has shown `n` problems in all, and returns them. */
async function problemsAfter(page: Page, n: number): Promise<string[]> {
  await page.waitForFunction((k) => document.querySelectorAll('#messages li.problem').length >= k, n);
  return problems(page);
}

describe('bad input: a message naming the file, and the page stays usable', () => {
  test('not a checkpoint, another model\'s checkpoint, an undecodable image, a mask of the wrong size', async () => {
    const dir = tmp('bad');
    const notes = join(dir, 'notes.safetensors');
    writeFileSync(notes, 'these are notes, not tensors\n');
    // Another model: an MLP saved as a training checkpoint with its own (non-SeCo) config, and as a bare state_dict.
    const mlp = { 'model.fc1.weight': { data: new Float32Array(12), shape: [3, 4] }, 'model.fc1.bias': { data: new Float32Array(3) } };
    const mlpCheckpoint = join(dir, 'mlp-checkpoint.safetensors');
    await T.saveCheckpoint(mlpCheckpoint, { format: SECO_CHECKPOINT_FORMAT, tensors: mlp, step: 10, meta: { state: {}, config: { lr: 0.01, hidden: 3 } } });
    const mlpState = join(dir, 'mlp-state.safetensors');
    await T.writeSafetensors(mlpState, { 'fc1.weight': mlp['model.fc1.weight'], 'fc1.bias': mlp['model.fc1.bias'] });
    // A VOC-layout folder: one good image, one that is not a JPEG, one whose mask is another image's (334x500).
    const folder = join(dir, 'bad-voc');
    const src = join(vocSample, 'VOC2012');
    mkdirSync(join(folder, 'JPEGImages'), { recursive: true });
    mkdirSync(join(folder, 'SegmentationClassAug'), { recursive: true });
    for (const id of ['2007_000032', '2007_000039']) copyFileSync(join(src, 'JPEGImages', `${id}.jpg`), join(folder, 'JPEGImages', `${id}.jpg`));
    writeFileSync(join(folder, 'JPEGImages', 'broken.jpg'), Buffer.from('\xff\xd8\xff\xe0 this is no JPEG', 'latin1'));
    copyFileSync(join(src, 'SegmentationClassAug', '2007_000032.png'), join(folder, 'SegmentationClassAug', '2007_000032.png'));
    copyFileSync(join(src, 'SegmentationClassAug', '2007_000129.png'), join(folder, 'SegmentationClassAug', '2007_000039.png'));

    const page = await openPage();
    await page.setInputFiles('#ckpt-file', notes);
    expect((await problemsAfter(page, 1))[0]).toMatch(/^notes\.safetensors: /);
    await page.setInputFiles('#ckpt-file', mlpCheckpoint);
    expect((await problemsAfter(page, 2))[1]).toMatch(/^mlp-checkpoint\.safetensors: the stored config is not a SeCo config/);
    await page.setInputFiles('#ckpt-file', mlpState);
    expect((await problemsAfter(page, 3))[2]).toMatch(/^mlp-state\.safetensors: not a SeCo network/);
    expect(await page.getAttribute('#model-info', 'data-state')).toBe('none');
    console.log(`messages:\n  ${(await problems(page)).join('\n  ')}`);

    // Still usable: the trained checkpoint loads, and the folder with bad files is evaluated around them.
    await page.setInputFiles('#ckpt-file', checkpoint);
    await page.waitForSelector('#model-info[data-state="loaded"]');
    await page.setInputFiles('#folder', folder);
    await page.waitForSelector('#data-info[data-state="picked"]');
    await page.fill('#opt-scales', '1');
    await page.uncheck('#opt-cams');
    await page.click('#run');
    await page.waitForSelector('#progress-text[data-state="done"]', { timeout: 120_000 });
    const after = await problems(page);
    expect(after).toHaveLength(2);
    expect(after.find((m) => m.includes('broken.jpg'))).toMatch(/^bad-voc\/JPEGImages\/broken\.jpg: cannot decode image/);
    expect(after.find((m) => m.includes('2007_000039.png'))).toMatch(/^bad-voc\/SegmentationClassAug\/2007_000039\.png: mask is 334x500 but its image is 500x375 \(skipped\)$/);
    expect(await page.textContent('#progress-text')).toMatch(/^3 \/ 3 done .*, 2 skipped$/);
    expect(await page.textContent('#pixel-acc')).toMatch(/1 images with ground truth$/);
    expect(await page.$$eval('#images-body tr', (rows) => rows.map((r) => (r as HTMLElement).dataset.id))).toEqual(['2007_000032']);
    // A bad option value is a message too, and a good run follows it.
    await page.fill('#opt-scales', '1, zero');
    await page.click('#run');
    expect((await problemsAfter(page, 1)).at(-1)).toMatch(/scales must be positive numbers/);
    await page.close();
  });
});

describe('without WebGPU the page says so', () => {
  test('Chromium without --enable-unsafe-webgpu: no adapter', async () => {
    const plain = await launchChromium({ webgpu: false });
    try {
      const page = await openPage(plain);
      expect(await page.getAttribute('#gpu-status', 'data-state')).toBe('missing');
      expect(await page.textContent('#gpu-status')).toMatch(/^WebGPU is present but gave no adapter .*--enable-unsafe-webgpu/);
      // The rest of the page is there; evaluating is not offered.
      await page.setInputFiles('#ckpt-file', checkpoint);
      expect((await problemsAfter(page, 1))[0]).toMatch(/^step-\d+\.safetensors: cannot be loaded without WebGPU/);
      expect(await page.isDisabled('#run')).toBe(true);
    } finally {
      await plain.close();
    }
  });

  test('a browser without navigator.gpu', async () => {
    const page = await browser.context.newPage();
    await page.addInitScript(() => Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined, configurable: true }));
    await page.goto(server.url);
    await page.waitForSelector('#gpu-status:not([data-state="starting"])');
    expect(await page.getAttribute('#gpu-status', 'data-state')).toBe('missing');
    expect(await page.textContent('#gpu-status')).toMatch(/^WebGPU is not available in this browser: navigator\.gpu is missing\./);
    expect(await page.isDisabled('#run')).toBe(true);
    await page.close();
  });
});
