// What a rank other than 0 writes: only its own log, in OUT/rank-R/ (its local losses), never the run's
// checkpoints or config. It resumes from rank 0's checkpoints, which every rank reads.
import { join } from 'node:path';
import type { JsonValue } from '@seco/tensor';
import { CheckpointManager, checkpointName } from '../checkpoint/manager.ts';
import type { TrainState } from '../checkpoint/train-state.ts';
import type { CommandIO } from '../commands/io.ts';

/** Rank r's folder inside the run folder. */
export const rankDir = (out: string, rank: number) => join(out, `rank-${rank}`);

/** Rank 0's checkpoints, read (resume) but never written or pruned. */
export class ReadOnlyCheckpoints extends CheckpointManager {
  override async save(step: number, _state: TrainState, _config: JsonValue): Promise<string> {
    return join(this.dir, checkpointName(step));
  }

  /** Rank 0's own business (a temporary file's pid means nothing on another host). */
  override async removeStaleTemps(): Promise<string[]> {
    return [];
  }
}

/** A follower's output: its progress and notes are dropped (rank 0 prints the run's); errors still show. */
export function followerIO(io: CommandIO): CommandIO {
  const quiet = { write: () => true, isTTY: false } as unknown as CommandIO['stdout'];
  return { stdout: quiet, stderr: io.stderr };
}
