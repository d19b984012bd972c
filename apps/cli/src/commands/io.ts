// Where commands write: injectable so tests can capture output.
export interface CommandIO {
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stderr: NodeJS.WritableStream;
}

export const processIO: CommandIO = { stdout: process.stdout, stderr: process.stderr };

export function warner(io: CommandIO): (message: string) => void {
  return (m) => void io.stderr.write(`warning: ${m}\n`);
}
