// `mpirun -np N seco ...` from the tests: Open MPI's launcher with what a container and root need, the CLI's bin,
// and the output captured. A machine without mpirun fails here with the fix, never skips: npm test's pretest
// (scripts/ensure-mpi.mjs) installs Open MPI, so its absence is a broken set-up.
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const SECO_BIN = fileURLToPath(new URL('../../bin/seco.mjs', import.meta.url));
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

export function requireMpirun(): string {
  const r = spawnSync('mpirun', ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new Error(`Open MPI's mpirun does not run (${r.error?.message ?? r.stderr}); run npm run setup:mpi (npm test's pretest does)`);
  return r.stdout.split('\n')[0];
}

/** Flags every test launch needs: root (CI containers), more ranks than cores, no CMA/ptrace single-copy in containers. */
export function launcherFlags(): string[] {
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  return ['--oversubscribe', '--mca', 'btl_vader_single_copy_mechanism', 'none', ...(root ? ['--allow-run-as-root'] : [])];
}

export interface Ran {
  code: number | null;
  out: string;
  err: string;
}

/** Runs a command to its end, capturing both streams. */
export function run(cmd: string, args: string[]): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: process.env });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out: Buffer.concat(out).toString('utf8'), err: Buffer.concat(err).toString('utf8') }));
  });
}

/** `mpirun -np N node seco.mjs ARGS`; `ranks` instead gives each rank its own arguments (MPMD, one rank each). */
export function mpirunSeco(np: number, args: string[], ranks?: string[][]): Promise<Ran> {
  const app = (a: string[]) => ['-np', '1', process.execPath, SECO_BIN, ...a];
  const apps = ranks ? ranks.flatMap((a, i) => (i === 0 ? app(a) : [':', ...app(a)])) : ['-np', String(np), process.execPath, SECO_BIN, ...args];
  return run('mpirun', [...launcherFlags(), ...apps]);
}

/** One process, no MPI. */
export function seco(args: string[]): Promise<Ran> {
  return run(process.execPath, [SECO_BIN, ...args]);
}

/** `mpirun -np N` of a TypeScript file, run as the CLI runs (tsx, the `source` condition). */
export function mpirunScript(np: number, file: string): Promise<Ran> {
  return run('mpirun', [...launcherFlags(), '-np', String(np), process.execPath, '--conditions=source', '--import', TSX, file]);
}
