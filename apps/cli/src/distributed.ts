// The CLI's MPI layer for other workspaces (benchmarks/): the world, DataParallel, host buffers MPI reads.
export { closeWorld, openWorld } from './distributed/world.ts';
export type { Communicator } from './distributed/communicator.ts';
export { DataParallel } from './distributed/data-parallel.ts';
export { NativeBuffer } from './distributed/native-buffer.ts';
