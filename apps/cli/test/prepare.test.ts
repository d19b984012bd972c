// seco prepare against a local server on 127.0.0.1 serving small archives in the real layout (support/).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { annotationsToMask, type CocoAnnotation, decodeIndexPng, labelsFromAnnotations, readLabelsJson } from '@seco/data';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { CommandIO } from '../src/commands/io.ts';
import { prepare } from '../src/commands/prepare.ts';
import { PRESETS } from '../src/config/presets.ts';
import { resolvePretrained } from '../src/cache-dir.ts';
import { KNOWN_FILES, type FileTable } from '../src/prepare/known-files.ts';
import { preparePretrained } from '../src/prepare/pretrained.ts';
import { refusedBase, type Served, serveFiles } from './support/archive-server.ts';
import { COCO_ID, cocoAnnotations, cocoFiles, fixtures, sampleTrain, sampleVal, type TestFiles, vocFiles } from './support/prepare-archives.ts';

function capture(): CommandIO & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  const sink = (f: (s: string) => void) => new Writable({ write: (c, _e, cb) => (f(String(c)), cb()) });
  return { stdout: sink((s) => (out += s)), stderr: sink((s) => (err += s)), out: () => out, err: () => err };
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const leftovers = (root: string) => (existsSync(root) ? readdirSync(root).filter((f) => f.startsWith('.prepare-')) : []);

let work: string;
let server: Served;
let refused: string;
let voc: TestFiles;
let coco: TestFiles;
const files = new Map<string, Uint8Array>();

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'seco-prepare-'));
  voc = await vocFiles(join(work, 'src'));
  coco = await cocoFiles();
  for (const t of [voc, coco]) for (const [k, b] of Object.entries(t.bytes)) files.set(KNOWN_FILES[k as keyof typeof KNOWN_FILES].name, b);
  server = await serveFiles(files);
  refused = await refusedBase();
});
afterAll(async () => {
  await server?.close();
  rmSync(work, { recursive: true, force: true });
});

describe('seco prepare voc', () => {
  test('downloads, checks, extracts and verifies the layout the voc preset reads; a second run does nothing', async () => {
    const root = join(work, 'complete');
    const io = capture();
    await prepare('voc', { root, io, table: voc.table(server.base) });
    // Every path of the voc preset, with data/ as the root.
    for (const p of [PRESETS.voc.data.root, PRESETS.voc.data.train_list, PRESETS.voc.data.val_list, PRESETS.voc.data.labels!]) {
      expect(existsSync(join(root, p.replace(/^data\//, ''))), p).toBe(true);
    }
    const masks = readdirSync(join(root, 'VOCdevkit', 'VOC2012', 'SegmentationClassAug'));
    expect(masks).toHaveLength(51);
    expect(existsSync(join(root, 'VOCdevkit', 'VOC2012', '__MACOSX'))).toBe(false);
    expect(sha256(readFileSync(join(root, 'voc', 'cls_labels_onehot.npy')))).toBe(KNOWN_FILES.vocLabels.sha256);
    expect(io.out()).toMatch(new RegExp(`train_aug\\s+${sampleTrain().length} ids\\s+${sampleTrain().length} images\\s+${sampleTrain().length} masks`));
    expect(io.out()).toMatch(new RegExp(`val\\s+${sampleVal().length} ids`));
    expect(io.out()).toMatch(/test\s+5 ids\s+0 images/);
    expect(leftovers(root)).toEqual([]);

    const before = server.log.length;
    const again = capture();
    await prepare('voc', { root, io: again, table: voc.table(server.base) });
    expect(server.log.length).toBe(before);
    expect(again.out()).toContain('nothing to do');
  });

  test('an interrupted download resumes with an HTTP Range', async () => {
    const root = join(work, 'resume');
    const name = KNOWN_FILES.vocTrainval.name;
    const size = files.get(name)!.length;
    server.cutOnce(name);
    await expect(prepare('voc', { root, io: capture(), table: voc.table(server.base) })).rejects.toThrow(/transfer cut|resumes/);
    const part = join(root, 'downloads', `${name}.part`);
    const have = statSync(part).size;
    expect(have).toBeGreaterThan(0);
    expect(have).toBeLessThan(size);
    expect(existsSync(join(root, 'VOCdevkit'))).toBe(false);
    await prepare('voc', { root, io: capture(), table: voc.table(server.base) });
    expect(server.log).toContain(`${name} bytes=${have}-`);
    expect(sha256(readFileSync(join(root, 'downloads', name)))).toBe(sha256(files.get(name)!));
    expect(readdirSync(join(root, 'VOCdevkit', 'VOC2012', 'JPEGImages'))).toHaveLength(51);
  });

  test('a checksum mismatch names the file and both digests, and leaves no dataset', async () => {
    const root = join(work, 'mismatch');
    const table = voc.table(server.base);
    const wrong = '0'.repeat(64);
    table.vocTrain = { ...table.vocTrain, sha256: wrong };
    const err = await prepare('voc', { root, io: capture(), table }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    const msg = (err as Error).message;
    expect(msg).toContain('voc/train.txt');
    expect(msg).toContain(`expected ${wrong}`);
    expect(msg).toContain(`got ${sha256(voc.bytes.vocTrain!)}`);
    expect(existsSync(join(root, 'downloads', 'voc', 'train.txt'))).toBe(false);
    expect(existsSync(join(root, 'VOCdevkit'))).toBe(false);
    expect(existsSync(join(root, 'voc'))).toBe(false);
  });

  test('a corrupt archive is named, and nothing half-written is left', async () => {
    for (const key of ['segClassAug', 'vocTrainval'] as const) {
      const root = join(work, `corrupt-${key}`);
      const good = voc.bytes[key]!;
      const bad = good.slice(0, good.length >> 1);
      mkdirSync(join(root, 'downloads'), { recursive: true });
      const table = voc.table(server.base);
      // The digest matches the corrupt file: the archive check, not the checksum, must catch it.
      table[key] = { ...table[key], sha256: sha256(bad) };
      writeFileSync(join(root, 'downloads', KNOWN_FILES[key].name), bad);
      const err = (await prepare('voc', { root, io: capture(), table }).catch((e: Error) => e)) as Error;
      expect(err.message, key).toContain(KNOWN_FILES[key].name);
      expect(err.message, key).toMatch(/corrupt|truncated|no files/);
      expect(existsSync(join(root, 'VOCdevkit')), key).toBe(false);
      expect(existsSync(join(root, 'voc')), key).toBe(false);
      expect(leftovers(root), key).toEqual([]);
    }
  });

  test('--from DIR reads archives already on disk, with no network', async () => {
    const from = join(work, 'from-dir');
    for (const [k, b] of Object.entries(voc.bytes)) {
      const p = join(from, KNOWN_FILES[k as keyof typeof KNOWN_FILES].name);
      mkdirSync(dirname(p), { recursive: true });
      writeFileSync(p, b);
    }
    const root = join(work, 'offline-ok');
    // URLs where nothing listens: any download would fail.
    await prepare('voc', { root, from, io: capture(), table: voc.table(refused) });
    expect(readdirSync(join(root, 'VOCdevkit', 'VOC2012', 'SegmentationClassAug'))).toHaveLength(51);
    expect(existsSync(join(root, 'downloads'))).toBe(false);
  });

  test('--from URL downloads from a mirror', async () => {
    const root = join(work, 'mirror');
    const before = server.log.length;
    await prepare('voc', { root, from: `${server.base}/`, io: capture(), table: voc.table(refused) });
    expect(server.log.slice(before)).toContain(KNOWN_FILES.segClassAug.name);
    expect(readdirSync(join(root, 'VOCdevkit', 'VOC2012', 'JPEGImages'))).toHaveLength(51);
  });

  test('without network: the URLs to fetch and where to put them', async () => {
    const root = join(work, 'offline');
    const err = (await prepare('voc', { root, io: capture(), table: voc.table(refused) }).catch((e: Error) => e)) as Error;
    for (const k of ['vocTrainval', 'segClassAug', 'vocLabels'] as const) {
      expect(err.message).toContain(KNOWN_FILES[k].name);
      expect(err.message).toContain(`${refused}/${KNOWN_FILES[k].name}`);
    }
    expect(err.message).toContain('seco prepare voc --from DIR');
    expect(err.message).toContain('ECONNREFUSED');
    expect(existsSync(join(root, 'VOCdevkit'))).toBe(false);
  });

  test('a partial layout already there is refused before any download', async () => {
    const root = join(work, 'partial');
    mkdirSync(join(root, 'VOCdevkit', 'VOC2012', 'JPEGImages'), { recursive: true });
    const before = server.log.length;
    await expect(prepare('voc', { root, io: capture(), table: voc.table(server.base) })).rejects.toThrow(/incomplete[\s\S]*Move or delete/);
    expect(server.log.length).toBe(before);
  });
});

describe('seco prepare coco', () => {
  test('masks and labels from the instance annotations by the converter, lists, verified; a second run does nothing', async () => {
    const root = join(work, 'coco');
    await prepare('coco', { root, io: capture(), table: coco.table(server.base) });
    const anns = cocoAnnotations() as unknown as CocoAnnotation[];
    const mask = decodeIndexPng(readFileSync(join(root, 'coco', 'SegmentationClass', 'val2014', '000000039769.png')), 'mask');
    expect(sha256(mask.data)).toBe(sha256(annotationsToMask(anns, 640, 480, 'x').data));
    const labels = readLabelsJson(join(root, 'coco', 'cls_labels.json'), 80);
    expect(labels.get(COCO_ID)).toEqual(labelsFromAnnotations(anns));
    expect(labels.get(COCO_ID)!.length).toBeGreaterThan(1);
    for (const p of [PRESETS.coco.data.root, PRESETS.coco.data.mask_root!, PRESETS.coco.data.train_list, PRESETS.coco.data.val_list, PRESETS.coco.data.labels!]) {
      expect(existsSync(join(root, p.replace(/^data\//, ''))), p).toBe(true);
    }
    expect(existsSync(join(root, 'coco', 'annotations', 'captions_val2014.json'))).toBe(false);
    const before = server.log.length;
    const again = capture();
    await prepare('coco', { root, io: again, table: coco.table(server.base) });
    expect(server.log.length).toBe(before);
    expect(again.out()).toContain('nothing to do');
  });
});

describe('seco prepare pretrained', () => {
  // The tiny timm-layout ViT of the fixtures (patch 16, width 64, depth 3) stands in for ViT-B/16.
  const vitBytes = () => new Uint8Array(readFileSync(join(fixtures, 'vit', 'vit.safetensors')));
  const tiny = { patchSize: 16, embedDim: 64, depth: 3 };
  const vitTable = (base: string, prefix: string): FileTable => ({
    ...KNOWN_FILES,
    vit: { name: 'tiny_vit-test.safetensors', urls: [`${base}/tiny_vit-test.safetensors`], sha256Prefix: prefix, source: 'test file' },
  });

  test('into the cache, checked by digest prefix and shapes; model.pretrained finds it by name', async () => {
    files.set('tiny_vit-test.safetensors', vitBytes());
    const cache = join(work, 'cache');
    const table = vitTable(server.base, sha256(vitBytes()).slice(0, 8));
    const dest = await preparePretrained({ root: cache, io: capture(), table }, tiny);
    expect(dest).toBe(join(cache, 'tiny_vit-test.safetensors'));
    expect(readdirSync(cache)).toEqual(['tiny_vit-test.safetensors']);
    expect(resolvePretrained('tiny_vit-test.safetensors', { SECO_CACHE: cache })).toBe(dest);
    expect(() => resolvePretrained('absent.pth', { SECO_CACHE: cache })).toThrow(/seco prepare pretrained/);
    const before = server.log.length;
    const again = capture();
    await preparePretrained({ root: cache, io: again, table }, tiny);
    expect(server.log.length).toBe(before);
    expect(again.out()).toContain('nothing to do');
    // ViT-B/16's shapes are not the tiny model's.
    await expect(preparePretrained({ root: cache, io: capture(), table })).rejects.toThrow(/embedDim 64, expected 768/);
  });

  test('a wrong digest prefix is a mismatch naming both digests', async () => {
    const cache = join(work, 'cache-bad');
    const err = (await preparePretrained({ root: cache, io: capture(), table: vitTable(server.base, 'deadbeef') }, tiny).catch((e: Error) => e)) as Error;
    expect(err.message).toContain('expected deadbeef');
    expect(err.message).toContain(sha256(vitBytes()));
    expect(existsSync(join(cache, 'tiny_vit-test.safetensors'))).toBe(false);
  });
});
