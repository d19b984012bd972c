// apps/web built as static files (vite build into apps/web/dist) and served by vite preview on a free port.
import { fileURLToPath } from 'node:url';
import { build, preview, type PreviewServer } from 'vite';

const configFile = fileURLToPath(new URL('../../../apps/web/vite.config.ts', import.meta.url));

export interface WebServer {
  url: string;
  close(): Promise<void>;
}

export async function buildAndServe(): Promise<WebServer> {
  await build({ configFile, logLevel: 'warn' });
  const server: PreviewServer = await preview({ configFile, logLevel: 'warn', preview: { port: 0, strictPort: false, host: '127.0.0.1' } });
  const url = server.resolvedUrls?.local[0];
  if (!url) throw new Error('vite preview reported no local URL');
  return { url, close: () => server.close() };
}
