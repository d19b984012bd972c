// A pickle format: which globals a kind of file may name (its allowlist) and how its dicts are built. The VM
// never runs code; a global does only what its format's entry does.

export interface PickleFormat {
  /** Names the format in errors ("global os.system is not allowed in numpy pickles"). */
  readonly name: string;
  /**
   * The allowlist: a listed global resolves to a value (usually a PickleCallable); undefined means unlisted.
   * It may throw to refuse a global it recognises but cannot read (the message says why).
   */
  global(module: string, name: string): unknown;
  /**
   * Unlisted globals: 'refuse' fails naming the global; 'inert' keeps it as a PickleGlobal whose calls become
   * PickleObjects (data only), so e.g. a checkpoint's argparse.Namespace does not stop its tensors loading.
   */
  readonly unlisted: 'refuse' | 'inert';
  /**
   * Python dicts as plain objects with string keys (torch state dicts; null-prototype-safe) or as Maps that
   * keep their keys as they are (numpy object pickles).
   */
  readonly dicts: 'object' | 'map';
  /** PERSID / BINPERSID (torch storages); a format without it refuses persistent ids. */
  persistentLoad?(pid: unknown): unknown;
}
