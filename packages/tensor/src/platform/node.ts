// Node entry: Dawn through the `webgpu` package (dawn.node).
import { create, globals } from 'webgpu';

let instance: GPU | null = null;

export const platformName: string = 'node';

export function getGPU(flags: string[] = []): GPU {
  if (!instance) {
    // Dawn's constants (GPUBufferUsage, ...) must be global, as in a browser.
    Object.assign(globalThis, globals);
    instance = create(flags);
  }
  return instance;
}

/** Drops the Dawn instance so Node can exit; a later getGPU() creates a new one. */
export function releaseGPU(): void {
  instance = null;
}
