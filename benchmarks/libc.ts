// libc through koffi, for the few Linux calls the benchmarks make (the thread's CPU clock, core pinning).
// Required by a computed name, so that a bundle (npm run gpu:bundle) leaves the native package out instead of
// failing at load: where koffi is missing this is null and reports go without what needs it.
import { createRequire } from 'node:module';

const KOFFI = 'koffi';

/** The C library, or null off Linux or where koffi cannot be loaded. */
export function libc(): import('koffi').LibraryHandle | null {
  if (process.platform !== 'linux') return null;
  try {
    const koffi = createRequire(import.meta.url)(KOFFI) as typeof import('koffi');
    return koffi.load('libc.so.6');
  } catch {
    return null;
  }
}
