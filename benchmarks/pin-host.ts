// Keeps the encoding thread and a CPU adapter's worker threads on different cores (Linux, 2+ cores), so the
// host's cost per dispatch is measured as on a real GPU, whose work never runs on the host's cores. On lavapipe
// the "GPU" kernels otherwise run on the encoding thread's core too, which then waits for them and shares its
// caches with them.
// Call `beforeInit` before the engine starts (the driver's threads, and any worker the run starts before
// `afterInit`, inherit the cores other than the first) and `afterInit` once they exist (the calling thread moves
// to the first core). On with SECO_PIN_HOST=1; Linux only (libc.ts).
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
    const pin = (first: number, last: number) => {
      const mask = new Uint8Array(128); // cpu_set_t
      for (let c = first; c <= last; c++) mask[c >> 3] |= 1 << (c & 7);
      if (setAffinity(0, mask.length, mask) !== 0) throw new Error(`sched_setaffinity(${first}-${last}) failed`);
    };
    return { beforeInit: () => pin(1, cores - 1), afterInit: () => pin(0, 0) };
  } catch {
    return null;
  }
}
