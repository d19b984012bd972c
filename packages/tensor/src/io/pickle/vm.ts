// The one pickle virtual machine (protocols 2-5, the opcodes torch.save and numpy's object pickles emit). It
// builds plain JavaScript values and never runs code: a global resolves only through its format's allowlist.
// GPU-free, so @seco/data reads its .npy pickles with it (through @seco/tensor/pickle) without the engine.
import { PickleError, type PickleWhere } from './error.ts';
import type { PickleFormat } from './format.ts';
import { isBuildable, isCallable, PickleGlobal, PickleObject } from './values.ts';

export interface UnpickleSource {
  /** Named in every error (default '<bytes>'). */
  file?: string;
  /** The pickle's entry inside an archive, named after the file. */
  member?: string;
}

const MARK = Symbol('mark');

/** An error of the VM itself; the loop adds the file, opcode and offset. */
class Fault extends Error {
  constructor(
    message: string,
    readonly global?: string,
  ) {
    super(message);
  }
}

function apply(fn: unknown, args: unknown[]): unknown {
  if (isCallable(fn)) return fn.call(args);
  if (fn instanceof PickleGlobal) return new PickleObject(fn.toString(), args);
  throw new Fault(`REDUCE on a value that is not callable (${typeof fn})`);
}

export function unpickle(bytes: Uint8Array, format: PickleFormat, source: UnpickleSource = {}): unknown {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  let pos = 0;
  let opStart = 0;
  let op = 0;
  const stack: unknown[] = [];
  const memo = new Map<number, unknown>();

  const need = (n: number) => {
    if (pos + n > bytes.length) {
      throw new Fault(`pickle data ends at byte ${bytes.length} inside opcode 0x${op.toString(16)} at offset ${opStart}: truncated`);
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
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Fault(`length ${v} at offset ${opStart} is too large`);
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
    if (stack.length === 0 || stack[stack.length - 1] === MARK) throw new Fault(`stack underflow at offset ${opStart}`);
    return stack.pop();
  };
  const top = () => {
    if (stack.length === 0 || stack[stack.length - 1] === MARK) throw new Fault(`stack underflow at offset ${opStart}`);
    return stack[stack.length - 1];
  };
  const popMark = () => {
    const i = stack.lastIndexOf(MARK);
    if (i < 0) throw new Fault(`no MARK on the stack at offset ${opStart}`);
    const items = stack.splice(i);
    items.shift();
    return items;
  };
  const memoGet = (k: number) => {
    if (!memo.has(k)) throw new Fault(`memo key ${k} is unset at offset ${opStart}`);
    return memo.get(k);
  };
  const longLE = (b: Uint8Array): number | bigint => {
    if (b.length === 0) return 0;
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const newDict = (): object => (format.dicts === 'map' ? new Map() : {});
  /** Object dicts: keys become strings (ints in optimizer state stay readable as "0", "1", ...), `__proto__` a plain key. */
  const setItem = (d: unknown, k: unknown, v: unknown) => {
    if (format.dicts === 'map' && d instanceof Map) d.set(k, v);
    else if (format.dicts === 'object' && typeof d === 'object' && d !== null && !Array.isArray(d) && !(d instanceof Map)) {
      Object.defineProperty(d, String(k), { value: v, enumerable: true, writable: true, configurable: true });
    } else throw new Fault('SETITEM(S) on something that is not a dict');
  };
  const setItems = (d: unknown, items: unknown[]) => {
    for (let i = 0; i + 1 < items.length; i += 2) setItem(d, items[i], items[i + 1]);
  };
  const global = (module: string, name: string): unknown => {
    const full = `${module}.${name}`;
    let v: unknown;
    try {
      v = format.global(module, name);
    } catch (e) {
      throw new Fault((e as Error).message, full);
    }
    if (v !== undefined) return v;
    if (format.unlisted === 'inert') return new PickleGlobal(module, name);
    throw new Fault(`global ${full} is not allowed in ${format.name} pickles (at offset ${opStart})`, full);
  };
  const persistent = (pid: unknown): unknown => {
    if (!format.persistentLoad) throw new Fault(`persistent id at offset ${opStart}: ${format.name} pickles have none`);
    return format.persistentLoad(pid);
  };

  for (;;) {
    opStart = pos;
    try {
      if (pos >= bytes.length) throw new Fault(`pickle data ends at byte ${bytes.length} without STOP: truncated`);
      op = bytes[pos++];
      switch (op) {
        case 0x80: // PROTO
          if (u8() > 5) throw new Fault(`pickle protocol ${bytes[pos - 1]} is not supported`);
          break;
        case 0x95: // FRAME: a length hint only (frames are contiguous in a file)
          u64();
          break;
        case 0x2e: // STOP
          if (stack.length !== 1) throw new Fault(`STOP with ${stack.length} values on the stack at offset ${opStart}`);
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
        case 0x96: // BYTEARRAY8
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
          const list = top();
          if (!Array.isArray(list)) throw new Fault(`APPEND on something that is not a list at offset ${opStart}`);
          list.push(v);
          break;
        }
        case 0x65: { // APPENDS
          const items = popMark();
          const list = top();
          if (!Array.isArray(list)) throw new Fault(`APPENDS on something that is not a list at offset ${opStart}`);
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
          stack.push(newDict());
          break;
        case 0x64: { // DICT
          const items = popMark();
          const d = newDict();
          setItems(d, items);
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
          setItems(top(), items);
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
          stack.push(global(module, line()));
          break;
        }
        case 0x93: { // STACK_GLOBAL
          const name = pop();
          const module = pop();
          if (typeof module !== 'string' || typeof name !== 'string') throw new Fault(`STACK_GLOBAL needs two strings at offset ${opStart}`);
          stack.push(global(module, name));
          break;
        }
        case 0x52: // REDUCE
        case 0x81: { // NEWOBJ: cls.__new__(cls, *args)
          const args = pop();
          if (!Array.isArray(args)) throw new Fault(`${op === 0x52 ? 'REDUCE' : 'NEWOBJ'} needs an argument tuple at offset ${opStart}`);
          stack.push(apply(pop(), args));
          break;
        }
        case 0x62: { // BUILD: sets attributes (obj.__dict__), never dict items
          const state = pop();
          const obj = top();
          if (isBuildable(obj)) obj.setState(state);
          else if (obj instanceof PickleObject) obj.state = state;
          // On a dict it is e.g. a state_dict's _metadata, which is no entry; other objects have no attributes to keep.
          else if (typeof obj !== 'object' || obj === null) throw new Fault(`BUILD on a ${obj === null ? 'None' : typeof obj} at offset ${opStart}`);
          break;
        }
        case 0x51: // BINPERSID
          stack.push(persistent(pop()));
          break;
        case 0x50: // PERSID
          stack.push(persistent(line()));
          break;
        default: {
          const ch = op >= 0x20 && op < 0x7f ? ` ('${String.fromCharCode(op)}')` : '';
          throw new Fault(`unsupported pickle opcode 0x${op.toString(16).padStart(2, '0')}${ch} at offset ${opStart}`);
        }
      }
    } catch (e) {
      if (e instanceof PickleError) throw e;
      // No opcode when the data ended before one could be read.
      const where: PickleWhere = { file: source.file ?? '<bytes>', member: source.member, opcode: pos > opStart ? op : undefined, offset: opStart };
      if (e instanceof Fault) throw new PickleError({ ...where, global: e.global }, e.message);
      // A format's callable refused its arguments (e.g. a tensor whose storage is not a storage).
      throw new PickleError(where, (e as Error).message ?? String(e), { cause: e });
    }
  }
}
