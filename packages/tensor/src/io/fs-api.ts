import type { ByteSource } from './source.ts';

/** Receives the file's bytes in order. */
export type ChunkWriter = (chunk: Uint8Array) => Promise<void>;

/** What the platform files (`#fs`: fs-node.ts, fs-browser.ts) provide; both check against this. */
export interface FsApi {
  openFileSource(path: string): Promise<ByteSource>;
  /** Writes through `produce`, so that `path` holds either its old contents or all of the new ones. */
  writeFileAtomic(path: string, produce: (write: ChunkWriter) => Promise<void>): Promise<void>;
}
