// Node files: positional reads through a file handle, and atomic replacement (temp file, fsync, rename, fsync dir).
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { IoError } from './errors.ts';
import type { ChunkWriter, FsApi } from './fs-api.ts';
import { checkRange, type ByteSource } from './source.ts';

export async function openFileSource(path: string): Promise<ByteSource> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    throw new IoError(path, `cannot open: ${(e as Error).message}`);
  }
  const size = (await fh.stat()).size;
  return {
    name: path,
    size,
    async read(offset, length) {
      checkRange(path, size, offset, length);
      const out = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await fh.read(out, done, length - done, offset + done);
        if (bytesRead === 0) throw new IoError(path, `file ended at ${offset + done} bytes while reading ${length} at offset ${offset} (changed while reading?)`);
        done += bytesRead;
      }
      return out;
    },
    close: () => fh.close(),
  };
}

let tempCounter = 0;

export async function writeFileAtomic(path: string, produce: (write: ChunkWriter) => Promise<void>): Promise<void> {
  // The temp file lives beside the target: rename is only atomic within one file system.
  const dir = dirname(path);
  // pid, counter and a random part: a stale temp file left by a crashed process can never be reopened.
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${tempCounter++}.${Math.random().toString(36).slice(2, 10)}.tmp`);
  const fh = await open(tmp, 'wx');
  let ok = false;
  try {
    let pos = 0;
    await produce(async (chunk) => {
      let done = 0;
      while (done < chunk.byteLength) {
        const { bytesWritten } = await fh.write(chunk, done, chunk.byteLength - done, pos + done);
        done += bytesWritten;
      }
      pos += chunk.byteLength;
    });
    await fh.sync();
    await fh.close();
    await rename(tmp, path);
    ok = true;
  } finally {
    if (!ok) {
      await fh.close().catch(() => {});
      await unlink(tmp).catch(() => {});
    }
  }
  // Persist the rename itself; some platforms (Windows) cannot open a directory, which is not an error.
  const d = await open(dir, 'r').catch(() => null);
  if (d) {
    await d.sync().catch(() => {});
    await d.close();
  }
}

({ openFileSource, writeFileAtomic }) satisfies FsApi;
