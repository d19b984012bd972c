// Streaming extraction of the dataset archives: tar (node-tar) and zip (yauzl). Both refuse absolute paths and
// `..`; a corrupt or truncated archive is an ArchiveError naming the archive.
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar';
import yauzl from 'yauzl';
import type { CommandIO } from '../commands/io.ts';
import { startBar } from './byte-progress.ts';

export class ArchiveError extends Error {
  override name = 'ArchiveError';
}

/** Maps an entry's path to where it goes under the output folder, or null to skip it. */
export type EntryMap = (path: string) => string | null;

const corrupt = (archive: string, e: unknown) =>
  new ArchiveError(`${archive}: corrupt or truncated archive (${(e as Error).message}); delete it and run again`, { cause: e });

/** Extracts the entries `keep` accepts; returns how many files were written. */
export async function extractTar(archive: string, into: string, io: CommandIO, keep: (path: string) => boolean = () => true): Promise<number> {
  await mkdir(into, { recursive: true });
  let files = 0;
  const bar = startBar(io, `extract ${archive}`, statSync(archive).size);
  let read = 0;
  const count = new Transform({
    transform(chunk: Buffer, _e, cb) {
      bar.update((read += chunk.length));
      cb(null, chunk);
    },
  });
  const x = tar.x({
    cwd: into,
    strict: true,
    filter: (p, entry) => {
      const kept = keep(p);
      if (kept && 'type' in entry && entry.type === 'File') files++;
      return kept;
    },
  });
  try {
    await pipeline(createReadStream(archive), count, x);
  } catch (e) {
    throw corrupt(archive, e);
  } finally {
    bar.stop();
  }
  // node-tar ends quietly on an archive it cannot parse at all.
  if (files === 0) throw new ArchiveError(`${archive}: no files extracted (not a tar archive, or none of the expected entries); delete it and run again`);
  return files;
}

function openZip(archive: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) =>
    yauzl.open(archive, { lazyEntries: true, strictFileNames: false, validateEntrySizes: true }, (err, zip) => (err ? reject(err) : resolve(zip))),
  );
}

/** Zip entries: `map` may rename (e.g. strip a top folder) or skip (null); folders are made as needed. */
export async function extractZip(archive: string, into: string, io: CommandIO, map: EntryMap = (p) => p): Promise<number> {
  let zip: yauzl.ZipFile;
  try {
    zip = await openZip(archive);
  } catch (e) {
    throw corrupt(archive, e);
  }
  const bar = startBar(io, `extract ${archive}`, zip.entryCount, 0, 'items');
  let seen = 0;
  let files = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      zip.on('error', reject);
      zip.on('end', resolve);
      zip.on('entry', (entry: yauzl.Entry) => {
        bar.update(++seen);
        const to = entry.fileName.endsWith('/') ? null : map(entry.fileName);
        if (to === null) return zip.readEntry();
        zip.openReadStream(entry, (err, stream) => {
          if (err) return reject(err);
          const dest = join(into, to);
          mkdir(dirname(dest), { recursive: true })
            .then(() => pipeline(stream, createWriteStream(dest)))
            .then(() => {
              files++;
              zip.readEntry();
            }, reject);
        });
      });
      zip.readEntry();
    });
  } catch (e) {
    throw corrupt(archive, e);
  } finally {
    bar.stop();
    zip.close();
  }
  if (files === 0) throw new ArchiveError(`${archive}: none of the expected entries found; delete it and run again`);
  return files;
}
