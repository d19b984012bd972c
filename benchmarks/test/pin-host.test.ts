import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { hostPinning, pinHostRequested } from '../pin-host.ts';

const here = fileURLToPath(new URL('.', import.meta.url));

describe('pin-host', () => {
  test('SECO_PIN_HOST takes 0 or 1 and nothing else', () => {
    expect(pinHostRequested({})).toBe(false);
    expect(pinHostRequested({ SECO_PIN_HOST: '0' })).toBe(false);
    expect(pinHostRequested({ SECO_PIN_HOST: '1' })).toBe(true);
    expect(() => pinHostRequested({ SECO_PIN_HOST: 'yes' })).toThrow(/SECO_PIN_HOST=yes: expected 0 or 1/);
  });

  // In a child process: pinning changes the calling thread's cores for good.
  test.runIf(process.platform === 'linux' && availableParallelism() >= 2 && hostPinning() !== null)(
    'the calling thread leaves the first core, then keeps to it; a thread started between keeps the others',
    () => {
      const script = `
        import { readFileSync } from 'node:fs';
        import { Worker } from 'node:worker_threads';
        import { hostPinning } from './pin-host.ts';
        const cores = () => /Cpus_allowed_list:\\s*(\\S+)/.exec(readFileSync('/proc/thread-self/status', 'utf8'))[1];
        const pin = hostPinning();
        pin.beforeInit();
        const before = cores();
        // The worker's code reads its own cores (an eval worker takes the parent's --input-type: ESM).
        const worker = new Worker("import { parentPort } from 'node:worker_threads'; import { readFileSync } from 'node:fs'; parentPort.once('message', () => parentPort.postMessage(readFileSync('/proc/thread-self/status', 'utf8').split('Cpus_allowed_list:')[1].split(String.fromCharCode(10))[0].trim()));", { eval: true });
        await new Promise((r) => worker.once('online', r));
        pin.afterInit();
        const after = cores();
        worker.postMessage('cores?');
        const inWorker = await new Promise((r) => worker.once('message', r));
        await worker.terminate();
        console.log(JSON.stringify({ before, after, inWorker }));
      `;
      const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: `${here}..`, encoding: 'utf8' });
      const last = availableParallelism() - 1;
      const others = last === 1 ? '1' : `1-${last}`;
      expect(JSON.parse(out.trim().split('\n').at(-1)!)).toEqual({ before: others, after: '0', inWorker: others });
    },
  );
});
