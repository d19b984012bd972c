/** An input problem tied to one file; the message always starts with the path so logs point at the culprit. */
export class DataError extends Error {
  readonly file: string;
  constructor(file: string, problem: string, options?: { cause?: unknown }) {
    super(`${file}: ${problem}`, options);
    this.name = 'DataError';
    this.file = file;
  }
}

/** Wraps any failure while handling `file` so the file name survives worker boundaries and rethrows. */
export function withFile(file: string, err: unknown): DataError {
  if (err instanceof DataError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return new DataError(file, msg, { cause: err });
}
