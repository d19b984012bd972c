#!/usr/bin/env node
// Makes sure Open MPI is there for `mpirun -np N npx seco ...` and the distributed tests: mpirun on the PATH and
// libmpi loadable. Fast when both are there; on Debian/Ubuntu as root it apt-installs openmpi-bin (which brings
// libopenmpi3), elsewhere it says what to install. Idempotent.
import { spawnSync } from 'node:child_process';
import { canAptInstall, osRelease, runner } from './setup-host.mjs';

/** The shared library the CLI opens through koffi (apps/cli/src/distributed/libmpi.ts looks for the same names). */
const LIBS = ['libmpi.so.40', 'libmpi.so'];

function found() {
  const v = spawnSync('mpirun', ['--version'], { encoding: 'utf8' });
  if (v.error || v.status !== 0) return { ok: false, why: 'mpirun is not on the PATH' };
  const version = (v.stdout || '').split('\n')[0].trim();
  const ldconfig = spawnSync('ldconfig', ['-p'], { encoding: 'utf8' });
  const listed = (ldconfig.stdout || '').split('\n').some((l) => LIBS.some((n) => l.trim().startsWith(`${n} `)));
  if (!listed && !process.env.SECO_LIBMPI) return { ok: false, why: `${version} found, but no ${LIBS.join(' / ')} in the loader's cache` };
  return { ok: true, version };
}


const run = runner('setup:mpi');

const first = found();
if (first.ok) {
  console.log(`[setup:mpi] ${first.version}`);
  process.exit(0);
}
console.log(`[setup:mpi] no usable Open MPI yet (${first.why})`);
const os = osRelease();
if (canAptInstall(os)) {
  run('apt-get', ['update', '-q']);
  run('apt-get', ['install', '-y', '-q', '--no-install-recommends', 'openmpi-bin', 'libopenmpi3']);
  const second = found();
  if (second.ok) {
    console.log(`[setup:mpi] ${second.version}`);
    process.exit(0);
  }
  console.error(`[setup:mpi] still no usable Open MPI after installing it (${second.why})`);
  process.exit(1);
}
console.error(
  '[setup:mpi] multi-process training and evaluation need Open MPI 4.x (mpirun and libmpi.so.40).\n' +
    '  Debian/Ubuntu: as root, apt-get install openmpi-bin libopenmpi3.  Fedora: dnf install openmpi.\n' +
    '  macOS: brew install open-mpi.  Elsewhere, or for another libmpi, set SECO_LIBMPI to its path.',
);
process.exit(1);
