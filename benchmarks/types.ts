/** One measured row of a suite; results/<suite>.json holds an array of these. */
export interface BenchCase {
  name: string;
  /** Problem size in words, e.g. "1024x1024x1024" (M x K x N for matmul). */
  shape: string;
  /** Median wall milliseconds per run, each run ending with a GPU sync. */
  ms: number;
  gflops: number | null;
  /** The same work on the peer engine (TF.js WebGPU for matmul), same adapter, same process. */
  peer_ms: number | null;
  /** peer_ms / ms: above 1 means ours is faster. */
  ratio: number | null;
  adapter: string;
  throughput?: number;
  unit?: string;
  /** Free-form detail (tile config, % of the FMA ceiling). */
  notes?: string;
  /** Everything the suite measured for this row, when it is more than the columns above. */
  detail?: unknown;
}

export type Suite = () => Promise<BenchCase[]>;
