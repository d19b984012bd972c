// Whether this process was started by mpirun, and MPI_COMM_WORLD when it runs with others. A single process
// (plain `npx seco`, or `mpirun -np 1`) never loads libmpi.
import { type Communicator, MpiCommunicator } from './communicator.ts';

/** The size mpirun announces to its processes (Open MPI; PMIx launchers set PMIX_RANK but no size). */
export function mpiWorldSize(env: NodeJS.ProcessEnv = process.env): number | null {
  const raw = env.OMPI_COMM_WORLD_SIZE;
  if (raw === undefined) return null;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`OMPI_COMM_WORLD_SIZE is '${raw}', not a positive integer`);
  return n;
}

let world: Communicator | null = null;

/** MPI_COMM_WORLD when launched by mpirun with more than one process, else null (one process, no MPI). */
export function openWorld(): Communicator | null {
  if (world) return world;
  const n = mpiWorldSize();
  if (n === null || n === 1) return null;
  world = new MpiCommunicator();
  if (world.size !== n) throw new Error(`MPI_COMM_WORLD has ${world.size} ranks but mpirun announced ${n}: is libmpi from the same Open MPI as mpirun?`);
  return world;
}

/** Finalizes MPI if this process opened it (once, at exit). */
export function closeWorld(): void {
  world?.finalize();
  world = null;
}

/** The communicator this process opened, if any (for error handling at the top level). */
export function currentWorld(): Communicator | null {
  return world;
}
