// Keeps the encoding thread and a CPU adapter's worker threads on different cores (Linux, 2+ cores), so the
// host's cost per dispatch is measured as on a real GPU, whose work never runs on the host's cores. On lavapipe
// the "GPU" kernels otherwise run on the encoding thread's core too, which then waits for them and shares its
// caches with them.
// Call `beforeInit` before the engine starts (the driver's threads, and any worker the run starts before
// `afterInit`, inherit the cores other than the first) and `afterInit` once they exist (the calling thread moves
// to the first core, every other thread of the process to the others). On with SECO_PIN_HOST=1; Linux only (libc.ts).
import { readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { libc } from './libc.ts';

export interface HostPinning {
  beforeInit(): void;
  afterInit(): void;
}

/** Whether SECO_PIN_HOST asks for pinning. */
export function pinHostRequested(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env.SECO_PIN_HOST ?? '';
  if (v !== '' && v !== '0' && v !== '1') throw new Error(`SECO_PIN_HOST=${v}: expected 0 or 1`);
  return v === '1';
}

/** Null off Linux, on one core, or where koffi is missing. */
export function hostPinning(): HostPinning | null {
  const cores = availableParallelism();
  const lib = cores >= 2 ? libc() : null;
  if (!lib) return null;
  try {
    const setAffinity = lib.func('int sched_setaffinity(int, size_t, void *)');
    const gettid = lib.func('int gettid()');
    const mask = (first: number, last: number) => {
      const m = new Uint8Array(128); // cpu_set_t
      for (let c = first; c <= last; c++) m[c >> 3] |= 1 << (c & 7);
      return m;
    };
    const pin = (tid: number, m: Uint8Array, what: string) => {
      if (setAffinity(tid, m.length, m) !== 0) throw new Error(`sched_setaffinity(${what}) failed`);
    };
    const others = mask(1, cores - 1);
    return {
      beforeInit: () => pin(0, others, 'the cores after the first'),
      afterInit: () => {
        // Every other thread of the process leaves the first core too (V8's and libuv's workers started before
        // beforeInit); a thread that ended since the listing is skipped.
        const self = gettid() as number;
        for (const name of readdirSync('/proc/self/task')) {
          const tid = Number(name);
          if (tid !== self) setAffinity(tid, others.length, others);
        }
        pin(0, mask(0, 0), 'the first core');
      },
    };
  } catch {
    return null;
  }
}
