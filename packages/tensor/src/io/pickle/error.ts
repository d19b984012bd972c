import { IoError } from '../errors.ts';

/** Where in a pickle a problem is: the opcode and its byte offset, and the global it named if any. */
export interface PickleWhere {
  /** The file (or '<bytes>'). */
  file: string;
  /** The pickle's entry inside an archive (a .pth's `archive/data.pkl`), if any. */
  member?: string;
  opcode?: number;
  offset?: number;
  /** `module.name` of the global the failing opcode named or called. */
  global?: string;
}

/** The one error every unpickling failure becomes: names the file, and where known the opcode and global. */
export class PickleError extends IoError {
  readonly member: string | null;
  readonly opcode: number | null;
  readonly offset: number | null;
  readonly global: string | null;

  constructor(where: PickleWhere, detail: string, options?: { cause?: unknown }) {
    super(where.file, where.member ? `${where.member}: ${detail}` : detail, options);
    this.name = 'PickleError';
    this.member = where.member ?? null;
    this.opcode = where.opcode ?? null;
    this.offset = where.offset ?? null;
    this.global = where.global ?? null;
  }
}
