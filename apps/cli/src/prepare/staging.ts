// Datasets are built in a temporary folder beside their final place and renamed into it only once verified, so
// an interrupted run never leaves a layout that looks complete. A layout already in place is verified, not rebuilt.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * What is in place: 'absent' when none of `parts` exists, else `verify(root)`'s report; a partial or broken
 * layout is an error (it may hold the user's own files, which are never overwritten).
 */
export async function inPlace<R>(root: string, parts: readonly string[], verify: (root: string) => Promise<R>): Promise<R | 'absent'> {
  const present = parts.filter((p) => existsSync(join(root, p)));
  if (present.length === 0) return 'absent';
  try {
    return await verify(root);
  } catch (e) {
    const where = present.map((p) => join(root, p)).join(' and ');
    throw new Error(`${where} already exist(s) but the layout is incomplete: ${(e as Error).message}\nMove or delete ${where} and run again.`, { cause: e });
  }
}

/** `build(tmp)` lays out `parts` under tmp (and verifies them); they are then renamed into root. */
export async function stageInto<R>(root: string, tag: string, parts: readonly string[], build: (tmp: string) => Promise<R>): Promise<R> {
  await mkdir(root, { recursive: true });
  const tmp = await mkdtemp(join(root, `.prepare-${tag}-`));
  try {
    const result = await build(tmp);
    for (const p of parts) await rename(join(tmp, p), join(root, p));
    return result;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
