/**
 * Kernel builders memoized by a short key that names everything the WGSL depends on (op, dtypes, rank, tile
 * sizes, read variants), so a launch builds no strings: the key finds the built kernel here and the engine's
 * pipeline by the same key. Keys start with the builder's name; two builders never share a prefix.
 */
const built = new Map<string, unknown>();

export function memoKernel<T>(key: string, build: () => T): T {
  let k = built.get(key) as T | undefined;
  if (k === undefined) {
    k = build();
    built.set(key, k);
  }
  return k;
}
