/**
 * How a reduction spreads over invocations:
 * - thread, chunks 1: a thread per output, a serial loop over its extent (no barriers; coalesced when
 *   neighbouring outputs are neighbours in memory, as when reducing over a non-last axis);
 * - thread, chunks > 1 ("columns"): a thread per (output, chunk of the extent), neighbouring threads on
 *   neighbouring outputs so loads stay coalesced, partials stored chunk-major, then a second pass;
 * - tree: a workgroup per (output, chunk), reduced through workgroup memory (subgroups where usable), partials
 *   stored output-major when chunked.
 */
export interface ReduceLayout {
  thread: boolean;
  chunks: number;
}

/**
 * GPU-class sizes. An H200 keeps about 270k invocations in flight; a reduction that launches far fewer leaves
 * it idle, so few-output reductions split their extent until about COLUMN_THREADS threads (or TREE_WORKGROUPS
 * workgroups) exist, as long as each still loops over a useful stretch.
 */
const COLUMN_THREADS = 65536;
/** Rows per column chunk at least: shorter chunks make the second pass longer than the first. */
const COLUMN_CHUNK_MIN = 32;
/** Below a warp of outputs the columns cannot coalesce: such reductions use trees. */
const COLUMN_OUTPUTS_MIN = 32;
const TREE_WORKGROUPS = 2048;
/** Elements per tree chunk at least (16 per invocation of 64). */
const TREE_CHUNK_MIN = 1024;
/** Partials per output at most: the second pass loops over them serially. */
const MAX_CHUNKS = 256;

/** Chunks of at least `minLen` elements, at most `want` of them and MAX_CHUNKS, none left empty. */
function chunkCount(redSize: number, want: number, minLen: number): number {
  const c = Math.max(1, Math.min(MAX_CHUNKS, want, Math.floor(redSize / minLen)));
  return Math.ceil(redSize / Math.ceil(redSize / c));
}

/**
 * The GPU-class layout of a reduction of `redSize` elements to each of `nOut` outputs. `columns` says the
 * outputs are contiguous and the reduced dims are not: reading down columns, where a thread per output
 * coalesces.
 */
export function gpuReduceLayout(nOut: number, redSize: number, columns: boolean): ReduceLayout {
  if (columns && nOut >= COLUMN_OUTPUTS_MIN) {
    if (nOut >= COLUMN_THREADS) return { thread: true, chunks: 1 };
    return { thread: true, chunks: chunkCount(redSize, Math.ceil(COLUMN_THREADS / nOut), COLUMN_CHUNK_MIN) };
  }
  if (nOut >= TREE_WORKGROUPS) return { thread: false, chunks: 1 };
  return { thread: false, chunks: chunkCount(redSize, Math.ceil(TREE_WORKGROUPS / nOut), TREE_CHUNK_MIN) };
}
