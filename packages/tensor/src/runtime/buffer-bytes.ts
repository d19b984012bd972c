/**
 * A buffer's size in bytes without asking the native object: `GPUBuffer.size` is a call into dawn.node (about
 * 0.3 µs), and the ops read it several times per dispatch to decide whether a tensor binds whole. Sizes never
 * change, so the first read is kept.
 */
const known = new WeakMap<GPUBuffer, number>();

export function bufferBytes(buffer: GPUBuffer): number {
  let n = known.get(buffer);
  if (n === undefined) known.set(buffer, (n = buffer.size));
  return n;
}
