// Digests of a file on disk, and the check against its table entry: a mismatch names the file and both digests.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { KnownFile } from './known-files.ts';

export class ChecksumError extends Error {
  override name = 'ChecksumError';
}

export interface Digests {
  sha256: string;
  md5: string;
}

/** One pass over the file for both digests (the archives are several GB). */
export async function hashFile(file: string): Promise<Digests> {
  const sha = createHash('sha256');
  const md5 = createHash('md5');
  for await (const chunk of createReadStream(file)) {
    sha.update(chunk as Buffer);
    md5.update(chunk as Buffer);
  }
  return { sha256: sha.digest('hex'), md5: md5.digest('hex') };
}

/** Throws a ChecksumError unless every digest the table knows for `entry` matches; returns the digests. */
export async function verifyFile(file: string, entry: KnownFile, hint = 'delete it and run again'): Promise<Digests> {
  const d = await hashFile(file);
  const bad = (algo: string, expected: string, actual: string) =>
    new ChecksumError(`${file}: ${algo} mismatch for ${entry.name}: expected ${expected}, got ${actual} (a corrupt or different file; ${hint})`);
  if (entry.sha256 && d.sha256 !== entry.sha256) throw bad('sha256', entry.sha256, d.sha256);
  if (entry.sha256Prefix && !d.sha256.startsWith(entry.sha256Prefix)) throw bad('sha256', `${entry.sha256Prefix}…`, d.sha256);
  if (entry.md5 && d.md5 !== entry.md5) throw bad('md5', entry.md5, d.md5);
  return d;
}
