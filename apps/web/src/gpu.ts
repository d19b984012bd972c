// The WebGPU device for @seco/tensor (its `#platform` browser entry takes navigator.gpu), or a message a person
// can act on when there is none.
import { engine, init } from '@seco/tensor';

export type GpuStatus = { ok: true; adapter: string; f16: boolean } | { ok: false; message: string };

const SOFTWARE_HINT =
  'Without a GPU, Chromium has a software WebGPU adapter (SwiftShader): start it with --enable-unsafe-webgpu ' +
  '(chrome://gpu shows what WebGPU found).';

export async function startGpu(): Promise<GpuStatus> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) {
    const why = globalThis.isSecureContext === false ? ' WebGPU needs a secure context: open the page over https or from localhost.' : '';
    return { ok: false, message: `WebGPU is not available in this browser: navigator.gpu is missing.${why} ${SOFTWARE_HINT}` };
  }
  try {
    await init();
  } catch (e) {
    const msg = (e as Error).message;
    const noAdapter = /adapter/i.test(msg);
    return { ok: false, message: noAdapter ? `WebGPU is present but gave no adapter (${msg}). ${SOFTWARE_HINT}` : `WebGPU device failed: ${msg}` };
  }
  const e = engine();
  return { ok: true, adapter: e.adapterDescription, f16: e.supportsF16 };
}
