// The engine of this process, on the adapter its local rank picks when mpirun started it (one process: the
// default adapter, and MPI is never loaded).
import { engine, init } from '@seco/tensor';
import type { CommandIO } from '../commands/io.ts';
import { adapterOptions } from './adapter-choice.ts';
import type { Communicator } from './communicator.ts';
import { gatherLines } from './gather-lines.ts';
import { openWorld } from './world.ts';

/**
 * Starts the engine. Under mpirun also returns MPI_COMM_WORLD, with the engine on this rank's adapter, and rank 0
 * says what each rank got; one process gets null.
 */
export async function startEngine(io: CommandIO): Promise<Communicator | null> {
  const world = openWorld();
  if (!world) {
    await init();
    return null;
  }
  const options = adapterOptions(world.localRank);
  try {
    await init(options);
  } catch (e) {
    const flags = options.flags ? ` with ${options.flags.join(' ')} (from SECO_ADAPTERS)` : '';
    throw new Error(`rank ${world.rank} (local rank ${world.localRank}) found no WebGPU adapter${flags}: ${(e as Error).message}`, { cause: e });
  }
  const lines = await gatherLines(world, `rank ${world.rank} (local ${world.localRank}): ${engine().adapterDescription}`);
  if (world.rank === 0) io.stdout.write(`data parallel over ${world.size} ranks\n${lines.map((l) => `  ${l}\n`).join('')}`);
  return world;
}
