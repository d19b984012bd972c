// Browsers have no file paths: a string is a URL fetched whole; saving goes through bytes (serialize*) instead.
import { IoError } from './errors.ts';
import type { ChunkWriter, FsApi } from './fs-api.ts';
import { bytesSource, type ByteSource } from './source.ts';

export async function openFileSource(url: string): Promise<ByteSource> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new IoError(url, `cannot fetch: ${(e as Error).message}`);
  }
  if (!res.ok) throw new IoError(url, `cannot fetch: HTTP ${res.status} ${res.statusText}`);
  return bytesSource(await res.arrayBuffer(), url);
}

export async function writeFileAtomic(path: string, _produce: (write: ChunkWriter) => Promise<void>): Promise<void> {
  throw new IoError(path, 'writing files by path needs Node; in a browser serialize to bytes and offer them as a download');
}

({ openFileSource, writeFileAtomic }) satisfies FsApi;
