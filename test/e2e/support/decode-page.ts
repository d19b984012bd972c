// The decode test page (e2e/decode-page) built with apps/web's resolve conditions and served on a free port.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, defaultClientConditions, type InlineConfig, preview } from 'vite';
import type { WebServer } from './web-server.ts';

export async function serveDecodePage(): Promise<WebServer> {
  const outDir = mkdtempSync(join(tmpdir(), 'seco-decode-page-'));
  const config: InlineConfig = {
    configFile: false,
    logLevel: 'warn',
    root: fileURLToPath(new URL('../decode-page/', import.meta.url)),
    base: './',
    resolve: { conditions: ['source', ...defaultClientConditions] },
    build: { target: 'es2022', outDir, emptyOutDir: true },
  };
  await build(config);
  const server = await preview({ ...config, preview: { port: 0, strictPort: false, host: '127.0.0.1' } });
  const url = server.resolvedUrls?.local[0];
  if (!url) throw new Error('vite preview reported no local URL');
  return {
    url,
    async close() {
      await server.close();
      rmSync(outDir, { recursive: true, force: true });
    },
  };
}
