// TF.js WebGPU as the peer, on our engine's own GPUDevice (so: same adapter, same process, same queue).
import { engine, init } from '@seco/tensor';
import { create } from 'webgpu';

type TF = typeof import('@tensorflow/tfjs-core');
type WebGPUBackendCtor = typeof import('@tensorflow/tfjs-backend-webgpu').WebGPUBackend;

export interface Peer {
  tf: TF;
  /** Flushes TF.js's pending command encoder and waits for the queue (a real GPU sync). */
  sync(): Promise<void>;
}

let peer: Peer | null = null;

export async function tfjsPeer(): Promise<Peer> {
  if (peer) return peer;
  await init();
  const g = globalThis as { navigator?: { gpu?: unknown } };
  // TF.js checks navigator.gpu before it will touch WebGPU; Node has no navigator.
  if (!g.navigator?.gpu) g.navigator = { ...(g.navigator ?? {}), gpu: create([]) };
  const tf = await import('@tensorflow/tfjs-core');
  const mod = (await import('@tensorflow/tfjs-backend-webgpu')) as { WebGPUBackend: WebGPUBackendCtor };
  const device = engine().device;
  // Kernels are registered under the name 'webgpu': replace the package's own factory (a second device).
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  tf.registerBackend('webgpu', () => new mod.WebGPUBackend(device), 10);
  await tf.setBackend('webgpu');
  await tf.ready();
  const backend = tf.backend() as InstanceType<WebGPUBackendCtor>;
  peer = {
    tf,
    async sync() {
      // TF.js's own read path ends the open compute pass before submitting; do the same.
      backend.endComputePassEncoder();
      backend.submitQueue();
      await device.queue.onSubmittedWorkDone();
    },
  };
  return peer;
}
