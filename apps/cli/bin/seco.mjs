#!/usr/bin/env node
// Runs the TypeScript entry through tsx with the `source` export condition, so `seco` works from a fresh clone
// without a build. A child process, because export conditions can only be set when Node starts.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);
const tsx = pathToFileURL(require.resolve('tsx')).href;
const entry = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const child = spawn(process.execPath, ['--conditions=source', '--import', tsx, entry, ...process.argv.slice(2)], { stdio: 'inherit' });
// Ctrl-C reaches the child through the terminal's process group; a signal sent to this process alone is passed on.
const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'];
const forward = (sig) => child.kill(sig);
for (const sig of signals) process.on(sig, forward);
child.on('exit', (code, signal) => {
  if (signal) {
    // Die of the same signal, so callers see how the child ended.
    for (const sig of signals) process.off(sig, forward);
    process.kill(process.pid, signal);
  } else process.exit(code ?? 1);
});
