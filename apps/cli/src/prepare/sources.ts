// Getting the known files onto disk: from a --from folder (read in place), from a --from mirror URL or from the
// table's URLs (downloaded into the downloads folder, resumable). Every file is checked against its digests.
import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { CommandIO } from '../commands/io.ts';
import { ChecksumError, verifyFile } from './digest.ts';
import { download, NetworkError } from './download.ts';
import type { FileKey, FileTable, KnownFile } from './known-files.ts';

export interface Sources {
  table: FileTable;
  /** A folder holding the files under their table names, or a mirror base URL. */
  from?: string;
  /** Where downloads go (kept, so a later run resumes or reuses them). */
  downloads: string;
  io: CommandIO;
  /** The command to repeat with --from, for the offline message (e.g. `seco prepare voc`). */
  command: string;
}

export const isUrl = (s: string): boolean => /^https?:\/\//i.test(s);

function urlsOf(entry: KnownFile, from: string | undefined): string[] {
  return from && isUrl(from) ? [`${from.replace(/\/+$/, '')}/${entry.name}`] : [...entry.urls];
}

/** Without network: which files to fetch from where, and where to put them. */
function offlineMessage(keys: readonly FileKey[], s: Sources, first: NetworkError): string {
  const rows = keys.map((k) => `  ${s.table[k].name}\n      ${urlsOf(s.table[k], s.from).join('\n      ')}`);
  return [
    `could not download: ${first.message}`,
    'Fetch these files on a machine with network access:',
    ...rows,
    `then put them, under the names shown, into a folder DIR and run \`${s.command} --from DIR\``,
    `(or into ${s.downloads}/ and run \`${s.command}\` again).`,
  ].join('\n');
}

/** A bad fresh download is removed so that the next run fetches it again; a file found in place is left alone. */
async function check(file: string, entry: KnownFile, fresh: boolean): Promise<void> {
  try {
    await verifyFile(file, entry, fresh ? 'removed it: run again to download it afresh' : undefined);
  } catch (e) {
    if (fresh && e instanceof ChecksumError) await rm(file, { force: true });
    throw e;
  }
}

/** Paths of the files, each verified. */
export async function obtain(keys: readonly FileKey[], s: Sources): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  if (s.from && !isUrl(s.from)) {
    const missing = keys.filter((k) => !existsSync(join(s.from!, s.table[k].name)));
    if (missing.length > 0) {
      const rows = missing.map((k) => `  ${join(s.from!, s.table[k].name)}  (from ${s.table[k].urls[0]})`);
      throw new Error([`--from ${s.from}: missing ${missing.length} file(s):`, ...rows].join('\n'));
    }
    for (const k of keys) {
      out[k] = join(s.from, s.table[k].name);
      s.io.stderr.write(`checking ${out[k]}\n`);
      await check(out[k], s.table[k], false);
    }
    return out;
  }
  for (const k of keys) {
    const entry = s.table[k];
    const dest = join(s.downloads, entry.name);
    const fresh = !existsSync(dest);
    if (fresh) {
      await mkdir(dirname(dest), { recursive: true });
      let last: NetworkError | null = null;
      for (const url of urlsOf(entry, s.from)) {
        try {
          await download(url, dest, s.io, entry.name);
          last = null;
          break;
        } catch (e) {
          if (!(e instanceof NetworkError)) throw e;
          last = e;
        }
      }
      if (last) throw new NetworkError(offlineMessage(keys.filter((q) => !existsSync(join(s.downloads, s.table[q].name))), s, last), { cause: last });
    }
    s.io.stderr.write(`checking ${dest}\n`);
    await check(dest, entry, fresh);
    out[k] = dest;
  }
  return out;
}
