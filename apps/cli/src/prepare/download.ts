// One HTTP(S) download into `dest`, resumable: bytes arrive in `dest.part`, a later call asks for the rest with
// an HTTP Range, and only a complete file is renamed to `dest`.
import { createWriteStream, existsSync, statSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { CommandIO } from '../commands/io.ts';
import { startBar } from './byte-progress.ts';

/** The URL could not be fetched (no network, a refused connection, an HTTP error, a cut transfer). */
export class NetworkError extends Error {
  override name = 'NetworkError';
}

const why = (e: unknown): string => {
  const err = e as Error & { cause?: { code?: string; message?: string } };
  return err.cause?.code ?? err.cause?.message ?? err.message;
};

export async function download(url: string, dest: string, io: CommandIO, label: string): Promise<void> {
  const part = `${dest}.part`;
  const have = existsSync(part) ? statSync(part).size : 0;
  let res: Response;
  try {
    res = await fetch(url, { headers: have > 0 ? { range: `bytes=${have}-` } : {}, redirect: 'follow' });
  } catch (e) {
    throw new NetworkError(`${url}: ${why(e)}`, { cause: e });
  }
  // 416: nothing left past `have`, i.e. the part is already the whole file.
  if (res.status === 416 && have > 0) {
    await rename(part, dest);
    return;
  }
  if (!res.ok || !res.body) throw new NetworkError(`${url}: HTTP ${res.status} ${res.statusText}`);
  // A server that ignores the Range sends the whole file again (200): start over.
  const resumed = res.status === 206 && contentRangeStart(res) === have;
  if (res.status === 206 && !resumed) throw new NetworkError(`${url}: the server answered the range ${have}- with ${res.headers.get('content-range')}`);
  const start = resumed ? have : 0;
  const length = Number(res.headers.get('content-length') ?? NaN);
  const total = Number.isFinite(length) ? start + length : 0;
  if (resumed) io.stderr.write(`${label}: resuming at ${start} bytes\n`);
  const bar = startBar(io, label, total, start);
  let done = start;
  const count = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      done += chunk.length;
      bar.update(done);
      cb(null, chunk);
    },
  });
  try {
    await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), count, createWriteStream(part, { flags: resumed ? 'a' : 'w' }));
  } catch (e) {
    throw new NetworkError(`${url}: transfer cut after ${done} bytes (${why(e)}); ${part} is kept and the same command resumes it`, { cause: e });
  } finally {
    bar.stop();
  }
  if (total > 0 && done !== total) throw new NetworkError(`${url}: got ${done} of ${total} bytes; ${part} is kept and the same command resumes it`);
  await rename(part, dest);
}

function contentRangeStart(res: Response): number {
  const m = /^bytes (\d+)-/.exec(res.headers.get('content-range') ?? '');
  return m ? Number(m[1]) : -1;
}
