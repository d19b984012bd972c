// The page is built from our packages' TypeScript sources (the `source` export condition) with their browser
// entries (`#platform` → navigator.gpu, `#fs` → fetch, `#decode` → createImageBitmap).
import { fileURLToPath } from 'node:url';
import { defaultClientConditions, defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  // Relative asset URLs: dist/ works from any folder of a static host.
  base: './',
  resolve: { conditions: ['source', ...defaultClientConditions] },
  build: { target: 'es2022', outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 2048 },
  server: { host: '127.0.0.1', port: 5173 },
  preview: { host: '127.0.0.1', port: 4173 },
});
