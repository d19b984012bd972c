// A file server on 127.0.0.1 for the prepare tests: honours HTTP Range, records every request, and can cut a
// transfer halfway once (an interrupted download).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Served {
  url(path: string): string;
  readonly base: string;
  /** Every request as 'path' or 'path range'. */
  readonly log: string[];
  /** The next GET of `path` sends half the body, then drops the connection. */
  cutOnce(path: string): void;
  close(): Promise<void>;
}

export async function serveFiles(files: Map<string, Uint8Array>): Promise<Served> {
  const log: string[] = [];
  const cut = new Set<string>();
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname.slice(1));
    const range = req.headers.range;
    log.push(range ? `${path} ${range}` : path);
    const body = files.get(path);
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    let start = 0;
    const m = range ? /^bytes=(\d+)-$/.exec(range) : null;
    if (m) {
      start = Number(m[1]);
      if (start >= body.length) {
        res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
        return;
      }
      res.writeHead(206, { 'content-length': body.length - start, 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` });
    } else {
      res.writeHead(200, { 'content-length': body.length });
    }
    const rest = body.subarray(start);
    if (cut.delete(path)) {
      res.write(rest.subarray(0, rest.length >> 1), () => res.destroy());
      return;
    }
    res.end(rest);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    base,
    url: (p) => `${base}/${p}`,
    log,
    cutOnce: (p) => void cut.add(p),
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** A base URL on 127.0.0.1 where nothing listens (connection refused), for downloads that must fail. */
export async function refusedBase(): Promise<string> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return `http://127.0.0.1:${port}`;
}
