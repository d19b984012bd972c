// Node entry: Dawn through the `webgpu` package (dawn.node).
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
