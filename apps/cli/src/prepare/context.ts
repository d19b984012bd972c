// What every `seco prepare` target gets: where to write, where files come from, the table, the output streams.
import type { CommandIO } from '../commands/io.ts';
import type { FileTable } from './known-files.ts';

export interface PrepareContext {
  /** Dataset root (the presets read data/...), or the pretrained weights' folder. */
  root: string;
  /** --from: a folder of files the user already has, or a mirror base URL. */
  from?: string;
  table: FileTable;
  io: CommandIO;
}
