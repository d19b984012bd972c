// The `seco` entry: parse, dispatch, and turn errors into one line on stderr and an exit code
// (2 for usage errors, 1 for everything else).
import { pathToFileURL } from 'node:url';
import { hasEngine, shutdown } from '@seco/tensor';
import { commandHelp, mainHelp, parseCommand, UsageError } from './args.ts';
import { demoCommand } from './commands/demo.ts';
import { evalCommand, mergeCommand } from './commands/evaluate.ts';
import { inferCommand } from './commands/infer.ts';
import { prepareCommand } from './commands/prepare.ts';
import { type CommandIO, processIO } from './commands/io.ts';
import { trainCommand } from './commands/train.ts';
import { closeWorld } from './distributed/world.ts';

export async function main(argv: readonly string[], io: CommandIO = processIO): Promise<number> {
  try {
    const p = parseCommand(argv);
    if (p.command === null) {
      io.stdout.write(mainHelp());
      return 0;
    }
    if (p.help) {
      io.stdout.write(commandHelp(p.command));
      return 0;
    }
    switch (p.command) {
      case 'prepare':
        return await prepareCommand(p.flags, p.positionals, io);
      case 'train':
        return await trainCommand(p.flags, io);
      case 'eval':
        return await evalCommand('seg', p.flags, io);
      case 'cam':
        return await evalCommand('cam', p.flags, io);
      case 'merge':
        return await mergeCommand(p.flags, io);
      case 'infer':
        return await inferCommand(p.flags, p.positionals, io);
      case 'demo':
        return await demoCommand(p.flags, io);
    }
  } catch (e) {
    io.stderr.write(`seco: ${(e as Error).message}\n`);
    if (process.env.SECO_DEBUG) io.stderr.write(`${(e as Error).stack}\n`);
    return e instanceof UsageError ? 2 : 1;
  }
}

// Run only as the program, not when imported by tests.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    async (code) => {
      // The GPU device keeps the event loop alive; release it so the process ends.
      if (hasEngine()) await shutdown();
      // MPI_Finalize only after a success: a rank that failed exits without it, so mpirun ends the other ranks
      // (which would otherwise wait for it in their next collective).
      if (code === 0) closeWorld();
      process.exitCode = code;
    },
    (e) => {
      console.error(e);
      process.exitCode = 1;
    },
  );
}
