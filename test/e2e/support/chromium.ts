// Debian's Chromium (scripts/ensure-chromium.mjs installs it), headless, driven by playwright-core. A fresh
// profile each time, and no background traffic: this machine has no network, and the refusals would flood.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** webgpu: pass --enable-unsafe-webgpu (headless Chromium's software WebGPU, SwiftShader, needs it). */
export async function launchChromium(o: { webgpu: boolean }): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'seco-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 1000 },
    args: [
      '--headless',
      '--no-sandbox',
      ...(o.webgpu ? ['--enable-unsafe-webgpu'] : []),
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
