// What the VM builds besides plain values: placeholders for globals a format leaves inert, and the two
// interfaces a format's globals implement (called by REDUCE / NEWOBJ, given state by BUILD).

/** A global a format keeps as data without resolving it (e.g. argparse.Namespace in a torch checkpoint). */
export class PickleGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  toString(): string {
    return `${this.module}.${this.name}`;
  }
}

/** An instance of an unresolved global: its constructor arguments and BUILD state, as plain values. */
export class PickleObject {
  state: unknown = undefined;
  constructor(
    readonly cls: string,
    readonly args: unknown[],
  ) {}
}

/** A resolved global that REDUCE / NEWOBJ may call with the argument tuple. */
export interface PickleCallable {
  call(args: unknown[]): unknown;
}

/** A value that takes BUILD's state itself (e.g. a numpy array: shape, dtype and raw bytes). */
export interface PickleBuildable {
  setState(state: unknown): void;
}

export const callable = (call: (args: unknown[]) => unknown): PickleCallable => ({ call });

export function isCallable(x: unknown): x is PickleCallable {
  return typeof x === 'object' && x !== null && typeof (x as PickleCallable).call === 'function' && !(x instanceof PickleGlobal);
}

export function isBuildable(x: unknown): x is PickleBuildable {
  return typeof x === 'object' && x !== null && typeof (x as PickleBuildable).setState === 'function';
}
