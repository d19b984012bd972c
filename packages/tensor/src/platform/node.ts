// Node entry: Dawn through the `webgpu` package (dawn.node).
import { totalmem } from 'node:os';
import { create, globals } from 'webgpu';

/**
 * One Dawn instance per set of instance flags, kept for the process: dawn.node never frees an instance (each one
 * dropped leaves its threads behind, 5 a cycle on lavapipe), while devices are freed by destroy(), so every
 * init() after a shutdown() reuses it. It lives on globalThis, so that copies of this module (a test runner that
 * re-imports modules per file) share it too.
 */
const INSTANCE = Symbol.for('@seco/tensor dawn instance');
type Held = { gpu: GPU; flags: string };

export const platformName: string = 'node';

export function getGPU(flags: string[] = []): GPU {
  const key = flags.join('\n');
  const g = globalThis as { [INSTANCE]?: Held };
  const held = g[INSTANCE];
  if (held && held.flags === key) return held.gpu;
  // Dawn's constants (GPUBufferUsage, ...) must be global, as in a browser.
  Object.assign(globalThis, globals);
  const gpu = create(flags);
  g[INSTANCE] = { gpu, flags: key };
  return gpu;
}

/** Nothing to release: the instance holds no device and does not keep Node from exiting. */
export function releaseGPU(): void {}

/** The host's RAM in bytes: a CPU adapter's buffers live there (its default memory budget is a share of it). */
export function hostMemoryBytes(): number | null {
  return totalmem();
}

/**
 * Awaits a dawn.node promise without spinning a core. dawn.node settles its promises from a setImmediate that
 * processes Dawn's events and queues itself again for as long as any promise is pending: a busy loop that holds a
 * whole core for the length of every GPU wait (on a CPU adapter, a core the "GPU" itself needs). While waits are
 * pending, each turn of the event loop also sleeps (Atomics.wait), backing off from 20 µs to 1 ms: a short wait
 * stays short, a long one costs next to no CPU.
 */
export function gpuWait<T>(p: Promise<T>): Promise<T> {
  if (waiting++ === 0) {
    sleepMs = MIN_SLEEP_MS;
    if (!throttleQueued) {
      throttleQueued = true;
      setImmediate(throttle);
    }
  }
  return p.finally(() => {
    waiting--;
  });
}

const MIN_SLEEP_MS = 0.02;
const MAX_SLEEP_MS = 1;
const sleeper = new Int32Array(new SharedArrayBuffer(4));
let waiting = 0;
let throttleQueued = false;
let sleepMs = MIN_SLEEP_MS;

function throttle(): void {
  throttleQueued = false;
  if (waiting === 0) return;
  Atomics.wait(sleeper, 0, 0, sleepMs);
  sleepMs = Math.min(2 * sleepMs, MAX_SLEEP_MS);
  throttleQueued = true;
  setImmediate(throttle);
}
