/** A file that cannot be read or written: the message starts with the file's name, then says what is wrong. */
export class IoError extends Error {
  constructor(
    readonly file: string,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}: ${detail}`, options);
    this.name = 'IoError';
  }
}
