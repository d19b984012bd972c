// What the set-up scripts (ensure-*.mjs) share: which OS this is, whether apt may be used, and a logged command.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

/** /etc/os-release as a key → value map ({} where there is none). */
export function osRelease() {
  if (!existsSync('/etc/os-release')) return {};
  return Object.fromEntries(
    readFileSync('/etc/os-release', 'utf8')
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => {
        const i = l.indexOf('=');
        return [l.slice(0, i), l.slice(i + 1).replace(/^"|"$/g, '')];
      }),
  );
}

/** Linux, Debian or Ubuntu, and root: the set-up may apt-install what it needs. */
export function canAptInstall(os = osRelease()) {
  const debianLike = /debian|ubuntu/.test(`${os.ID} ${os.ID_LIKE ?? ''}`);
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  return process.platform === 'linux' && debianLike && isRoot;
}

/** A command runner that prints each command under `tag` first and fails on a non-zero exit. */
export function runner(tag) {
  return (cmd, args) => {
    console.log(`[${tag}] ${cmd} ${args.join(' ')}`);
    execFileSync(cmd, args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  };
}
