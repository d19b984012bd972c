import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** ../shared/data beside the repository, read in place. */
export const sharedData = process.env.SECO_SHARED_DATA ?? fileURLToPath(new URL('../../../../shared/data/', import.meta.url));
export const vocSample = join(sharedData, 'voc-sample');
export const vocRoot = join(vocSample, 'VOC2012');
export const vocFull = join(sharedData, 'voc-full-labels');
export const cocoSample = join(sharedData, 'coco-sample');

export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'seco-data-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
