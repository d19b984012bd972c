#!/usr/bin/env node
// Makes sure Debian's Chromium is at /usr/bin/chromium for the browser tests (playwright-core drives it; no
// browser is ever downloaded). Fast when it is there; on Debian/Ubuntu as root (or with passwordless sudo) it
// installs the distribution package, elsewhere it says what to install. Idempotent.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const CHROMIUM = '/usr/bin/chromium';

function version() {
  const r = spawnSync(CHROMIUM, ['--version'], { encoding: 'utf8', timeout: 60_000 });
  return r.status === 0 ? r.stdout.trim() : null;
}

function aptPrefix() {
  if (typeof process.getuid === 'function' && process.getuid() === 0) return [];
  const sudo = spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' });
  return sudo.status === 0 ? ['sudo', '-n'] : null;
}

function run(prefix, args) {
  const [cmd, ...rest] = [...prefix, 'apt-get', ...args];
  console.log(`[setup:chromium] ${[cmd, ...rest].join(' ')}`);
  execFileSync(cmd, rest, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}

if (existsSync(CHROMIUM)) {
  const v = version();
  if (v) {
    console.log(`[setup:chromium] ${v}`);
    process.exit(0);
  }
}
const prefix = aptPrefix();
if (process.platform === 'linux' && existsSync('/usr/bin/apt-get') && prefix) {
  run(prefix, ['update', '-q']);
  // fonts-dejavu-core: the page's text in screenshots; without recommends the package pulls no desktop.
  run(prefix, ['install', '-y', '-q', '--no-install-recommends', 'chromium', 'fonts-dejavu-core']);
  const v = version();
  if (v) {
    console.log(`[setup:chromium] ${v}`);
    process.exit(0);
  }
  console.error(`[setup:chromium] ${CHROMIUM} still does not run after installing the chromium package`);
  process.exit(1);
}
console.error(
  `[setup:chromium] the browser tests need Chromium at ${CHROMIUM}.\n` +
    '  Debian/Ubuntu: as root, apt-get install chromium (Debian) or chromium-browser (Ubuntu, a snap: link it there).',
);
process.exit(1);
