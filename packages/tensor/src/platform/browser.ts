// Browser entry: the platform's navigator.gpu.
export const platformName: string = 'browser';

export function getGPU(_flags: string[] = []): GPU {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) {
    throw new Error(
      'WebGPU is not available in this browser (navigator.gpu is missing). Use a browser with WebGPU enabled, ' +
        'for example Chromium with --enable-unsafe-webgpu.',
    );
  }
  return gpu;
}

export function releaseGPU(): void {}

/** Browsers do not say how much memory the machine has (navigator.deviceMemory is rounded and capped at 8). */
export function hostMemoryBytes(): number | null {
  return null;
}

/** The browser's event loop waits for the GPU without spinning: nothing to add. */
export function gpuWait<T>(p: Promise<T>): Promise<T> {
  return p;
}
