#!/usr/bin/env node
// Makes sure dawn.node finds a WebGPU adapter. Fast when one is there; on Debian as root it installs Mesa's
// Vulkan driver (>= 24; bookworm needs bookworm-backports), elsewhere it says what to install. Idempotent.
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { canAptInstall, osRelease, runner } from './setup-host.mjs';

const PROBE = `
import('webgpu').then(async ({ create, globals }) => {
  Object.assign(globalThis, globals);
  const a = await create([]).requestAdapter();
  if (!a) { console.log('NONE'); process.exit(0); }
  const i = a.info;
  console.log('ADAPTER ' + [i.vendor, i.architecture, i.device, i.description].filter(Boolean).join(' '));
  process.exit(0);
}).catch((e) => { console.log('ERROR ' + e.message); process.exit(0); });`;

function probe() {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', PROBE], { encoding: 'utf8', timeout: 120_000 });
  const line = (r.stdout || '').split('\n').find((l) => /^(ADAPTER|NONE|ERROR)/.test(l)) ?? `ERROR ${r.stderr || 'probe failed'}`;
  return line;
}


const run = runner('setup:gpu');

function installMesa(os) {
  const codename = os.VERSION_CODENAME;
  const args = ['install', '-y', '-q', '--no-install-recommends'];
  if (codename === 'bookworm') {
    // bookworm's own Mesa 22.3 lacks a Vulkan feature Dawn requires; backports carries 25.x.
    const list = '/etc/apt/sources.list.d/bookworm-backports.sources';
    if (!existsSync(list)) {
      writeFileSync(
        list,
        'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\n' +
          'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n',
      );
    }
    run('apt-get', ['update', '-q']);
    run('apt-get', [...args, '-t', 'bookworm-backports', 'mesa-vulkan-drivers', 'libvulkan1']);
  } else {
    run('apt-get', ['update', '-q']);
    run('apt-get', [...args, 'mesa-vulkan-drivers', 'libvulkan1']);
  }
}

const first = probe();
if (first.startsWith('ADAPTER')) {
  console.log(`[setup:gpu] WebGPU adapter: ${first.slice(8)}`);
  process.exit(0);
}
console.log(`[setup:gpu] no WebGPU adapter yet (${first})`);
const os = osRelease();
if (canAptInstall(os)) {
  installMesa(os);
  const second = probe();
  if (second.startsWith('ADAPTER')) {
    console.log(`[setup:gpu] WebGPU adapter: ${second.slice(8)}`);
    process.exit(0);
  }
  console.error(`[setup:gpu] still no adapter after installing Mesa (${second})`);
  process.exit(1);
}
console.error(
  '[setup:gpu] dawn.node needs a Vulkan driver (Linux), Metal (macOS) or D3D12 (Windows).\n' +
    '  Debian/Ubuntu without a GPU: as root, apt-get install mesa-vulkan-drivers libvulkan1 (Mesa >= 24;\n' +
    '  on Debian bookworm add bookworm-backports and install with -t bookworm-backports).\n' +
    '  With an NVIDIA/AMD/Intel GPU: install the vendor driver with its Vulkan ICD and libvulkan1.',
);
process.exit(1);
