// This thread's CPU time (clock_gettime(CLOCK_THREAD_CPUTIME_ID)), for the engine's hostCpuClock: on a CPU
// adapter the "GPU" runs on the same cores as the host, so the wall time inside encode includes the thread's
// preemption; its CPU time is what encoding costs, as on a real GPU. Linux only (null elsewhere).
import { libc } from './libc.ts';

const CLOCK_THREAD_CPUTIME_ID = 3; // Linux's id

/** A clock in milliseconds of the calling thread's CPU time, or null where it is not available. */
export function threadCpuClock(): (() => number) | null {
  const lib = libc();
  if (!lib) return null;
  try {
    const clockGettime = lib.func('int clock_gettime(int, void *)');
    const ts = new BigInt64Array(2); // struct timespec { tv_sec; tv_nsec } on 64-bit Linux
    const clock = () => {
      if (clockGettime(CLOCK_THREAD_CPUTIME_ID, ts) !== 0) throw new Error('clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed');
      return Number(ts[0]) * 1e3 + Number(ts[1]) / 1e6;
    };
    clock();
    return clock;
  } catch {
    return null;
  }
}
