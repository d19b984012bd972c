// A pickle virtual machine for the subset torch.save emits (protocol 2, plus the protocol 3/4 opcodes that are
// cheap). It builds plain JavaScript values and never runs code: globals resolve through `findClass`.
import { setEntry } from './host.ts';

/** A global the hooks did not resolve (e.g. argparse.Namespace); kept so the rest of the file still loads. */
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

export interface PickleHooks {
  findClass(module: string, name: string): unknown;
  persistentLoad(pid: unknown): unknown;
}

const MARK = Symbol('mark');

/** Python dict -> object; keys become strings (ints in optimizer state stay readable as "0", "1", ...). */
function setItem(d: unknown, k: unknown, v: unknown): void {
  if (typeof d !== 'object' || d === null || Array.isArray(d)) throw new Error('SETITEM(S) on something that is not a dict');
  setEntry(d as Record<string, unknown>, String(k), v);
}

function isCallable(x: unknown): x is PickleCallable {
  return typeof x === 'object' && x !== null && typeof (x as PickleCallable).call === 'function' && !(x instanceof PickleGlobal);
}

function apply(fn: unknown, args: unknown[]): unknown {
  if (isCallable(fn)) return fn.call(args);
  if (fn instanceof PickleGlobal) return new PickleObject(fn.toString(), args);
  throw new Error(`REDUCE on a value that is not callable (${typeof fn})`);
}

export function unpickle(bytes: Uint8Array, hooks: PickleHooks): unknown {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  let pos = 0;
  let opStart = 0;
  let op = 0;
  const stack: unknown[] = [];
  const memo = new Map<number, unknown>();

  const need = (n: number) => {
    if (pos + n > bytes.length) {
      throw new Error(`pickle data ends at byte ${bytes.length} inside opcode 0x${op.toString(16)} at offset ${opStart}: truncated`);
    }
    const p = pos;
    pos += n;
    return p;
  };
  const u8 = () => bytes[need(1)];
  const u16 = () => view.getUint16(need(2), true);
  const u32 = () => view.getUint32(need(4), true);
  const u64 = () => {
    const v = view.getBigUint64(need(8), true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`length ${v} at offset ${opStart} is too large`);
    return Number(v);
  };
  const raw = (n: number) => bytes.subarray(need(n), pos);
  const str = (n: number) => utf8.decode(raw(n));
  const latin1 = (n: number) => {
    let s = '';
    for (const b of raw(n)) s += String.fromCharCode(b);
    return s;
  };
  const line = () => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) need(bytes.length - pos + 1);
    const s = latin1(end - pos);
    pos++;
    return s;
  };
  const pop = () => {
    if (stack.length === 0 || stack[stack.length - 1] === MARK) throw new Error(`stack underflow at offset ${opStart}`);
    return stack.pop();
  };
  const top = () => {
    if (stack.length === 0 || stack[stack.length - 1] === MARK) throw new Error(`stack underflow at offset ${opStart}`);
    return stack[stack.length - 1];
  };
  const popMark = () => {
    const i = stack.lastIndexOf(MARK);
    if (i < 0) throw new Error(`no MARK on the stack at offset ${opStart}`);
    const items = stack.splice(i);
    items.shift();
    return items;
  };
  const memoGet = (k: number) => {
    if (!memo.has(k)) throw new Error(`memo key ${k} is unset at offset ${opStart}`);
    return memo.get(k);
  };
  const longLE = (b: Uint8Array): number | bigint => {
    if (b.length === 0) return 0;
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };

  for (;;) {
    opStart = pos;
    if (pos >= bytes.length) throw new Error(`pickle data ends at byte ${bytes.length} without STOP: truncated`);
    op = bytes[pos++];
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) throw new Error(`pickle protocol ${bytes[pos - 1]} is not supported`);
        break;
      case 0x95: // FRAME: a length hint only
        u64();
        break;
      case 0x2e: // STOP
        if (stack.length !== 1) throw new Error(`STOP with ${stack.length} values on the stack at offset ${opStart}`);
        return stack[0];
      case 0x28: // MARK
        stack.push(MARK);
        break;
      case 0x30: // POP
        pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4a: // BININT
        stack.push(view.getInt32(need(4), true));
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: // LONG1
        stack.push(longLE(raw(u8())));
        break;
      case 0x8b: // LONG4
        stack.push(longLE(raw(u32())));
        break;
      case 0x47: // BINFLOAT (big-endian)
        stack.push(view.getFloat64(need(8), false));
        break;
      case 0x58: // BINUNICODE
        stack.push(str(u32()));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(str(u8()));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(str(u64()));
        break;
      case 0x54: // BINSTRING (Python 2 str)
        stack.push(latin1(view.getInt32(need(4), true)));
        break;
      case 0x55: // SHORT_BINSTRING
        stack.push(latin1(u8()));
        break;
      case 0x42: // BINBYTES
        stack.push(raw(u32()).slice());
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(raw(u8()).slice());
        break;
      case 0x8e: // BINBYTES8
        stack.push(raw(u64()).slice());
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x74: // TUPLE
        stack.push(popMark());
        break;
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: { // TUPLE2
        const b = pop();
        stack.push([pop(), b]);
        break;
      }
      case 0x87: { // TUPLE3
        const c = pop();
        const b = pop();
        stack.push([pop(), b, c]);
        break;
      }
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x6c: // LIST
        stack.push(popMark());
        break;
      case 0x61: { // APPEND
        const v = pop();
        (top() as unknown[]).push(v);
        break;
      }
      case 0x65: { // APPENDS
        const items = popMark();
        const list = top();
        if (!Array.isArray(list)) throw new Error(`APPENDS on something that is not a list at offset ${opStart}`);
        list.push(...items);
        break;
      }
      case 0x8f: // EMPTY_SET (sets become arrays)
        stack.push([]);
        break;
      case 0x90: { // ADDITEMS
        const items = popMark();
        (top() as unknown[]).push(...items);
        break;
      }
      case 0x91: // FROZENSET
        stack.push(popMark());
        break;
      case 0x7d: // EMPTY_DICT
        stack.push({});
        break;
      case 0x64: { // DICT
        const items = popMark();
        const d = {};
        for (let i = 0; i + 1 < items.length; i += 2) setItem(d, items[i], items[i + 1]);
        stack.push(d);
        break;
      }
      case 0x73: { // SETITEM
        const v = pop();
        const k = pop();
        setItem(top(), k, v);
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark();
        const d = top();
        for (let i = 0; i + 1 < items.length; i += 2) setItem(d, items[i], items[i + 1]);
        break;
      }
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x70: // PUT
        memo.set(Number(line()), top());
        break;
      case 0x68: // BINGET
        stack.push(memoGet(u8()));
        break;
      case 0x6a: // LONG_BINGET
        stack.push(memoGet(u32()));
        break;
      case 0x67: // GET
        stack.push(memoGet(Number(line())));
        break;
      case 0x63: { // GLOBAL
        const module = line();
        stack.push(hooks.findClass(module, line()));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') throw new Error(`STACK_GLOBAL needs two strings at offset ${opStart}`);
        stack.push(hooks.findClass(module, name));
        break;
      }
      case 0x52: { // REDUCE
        const args = pop();
        if (!Array.isArray(args)) throw new Error(`REDUCE needs an argument tuple at offset ${opStart}`);
        stack.push(apply(pop(), args));
        break;
      }
      case 0x81: { // NEWOBJ: cls.__new__(cls, *args)
        const args = pop();
        if (!Array.isArray(args)) throw new Error(`NEWOBJ needs an argument tuple at offset ${opStart}`);
        stack.push(apply(pop(), args));
        break;
      }
      case 0x62: { // BUILD: sets attributes (obj.__dict__), never dict items
        const state = pop();
        const obj = top();
        // Only unresolved objects keep it; on a dict it is e.g. a state_dict's _metadata, which is no entry.
        if (obj instanceof PickleObject) obj.state = state;
        break;
      }
      case 0x51: // BINPERSID
        stack.push(hooks.persistentLoad(pop()));
        break;
      case 0x50: // PERSID
        stack.push(hooks.persistentLoad(line()));
        break;
      default: {
        const ch = op >= 0x20 && op < 0x7f ? ` ('${String.fromCharCode(op)}')` : '';
        throw new Error(`unsupported pickle opcode 0x${op.toString(16).padStart(2, '0')}${ch} at offset ${opStart}`);
      }
    }
  }
}
