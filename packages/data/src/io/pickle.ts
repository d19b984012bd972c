// A deliberately small unpickler: enough of protocols 2-5 to read a dict of str -> numpy arrays, as in
// SeCo's cls_labels_onehot.npy. Only the globals that numpy arrays need are allowed; anything else is an
// error, so a hostile pickle cannot do more than fail.

export class PickledArray {
  shape: number[] = [];
  dtype = '';
  fortran = false;
  raw: Uint8Array = new Uint8Array(0);
  /** Items of an object array (dtype 'O'), e.g. the dict inside a 0-d array that np.save wrote. */
  objects: unknown[] | null = null;
}

class PickledDtype {
  constructor(public str: string) {}
  order = '|';
}

class Global {
  constructor(public module: string, public name: string) {}
}

const MARK = Symbol('mark');
type Value = unknown;

const ALLOWED = new Set([
  'numpy.core.multiarray._reconstruct',
  'numpy._core.multiarray._reconstruct',
  'numpy.ndarray',
  'numpy.dtype',
  '_codecs.encode',
]);

function call(fn: Value, args: Value[]): Value {
  if (!(fn instanceof Global)) throw new Error('pickle: REDUCE on a non-callable');
  const key = `${fn.module}.${fn.name}`;
  if (key.endsWith('._reconstruct')) return new PickledArray();
  if (key === 'numpy.dtype') return new PickledDtype(String(args[0]));
  if (key === '_codecs.encode') {
    const s = String(args[0]);
    const enc = String(args[1] ?? 'utf-8');
    if (enc !== 'latin1' && enc !== 'latin-1') throw new Error(`pickle: _codecs.encode with ${enc}`);
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  }
  throw new Error(`pickle: cannot call ${key}`);
}

function build(obj: Value, state: Value): void {
  if (obj instanceof PickledArray) {
    const st = state as Value[];
    // (version, shape, dtype, is_fortran, rawdata)
    obj.shape = (st[1] as number[]).map(Number);
    const dt = st[2] as PickledDtype;
    // numpy pickles dtype('f4') plus its byte order ('<', '>', '|' or '=' for native, i.e. little here).
    const kind = /^[<>|=]/.test(dt.str) ? dt.str.slice(1) : dt.str;
    obj.dtype = (dt.order === '>' ? '>' : '<') + kind;
    obj.fortran = Boolean(st[3]);
    const raw = st[4];
    if (Array.isArray(raw)) {
      obj.objects = raw;
      return;
    }
    if (!(raw instanceof Uint8Array)) throw new Error('pickle: ndarray state without raw bytes (object arrays are not supported)');
    obj.raw = raw;
    return;
  }
  if (obj instanceof PickledDtype) {
    const st = state as Value[];
    if (typeof st[1] === 'string') obj.order = st[1];
    return;
  }
  throw new Error('pickle: BUILD on an unsupported object');
}

export function unpickle(buf: Uint8Array): Value {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const td = new TextDecoder('utf-8', { fatal: true });
  let pos = 0;
  const stack: Value[] = [];
  const memo = new Map<number, Value>();
  const need = (n: number) => {
    if (pos + n > buf.length) throw new Error('pickle: truncated data');
  };
  const u8 = () => (need(1), buf[pos++]);
  const u16 = () => (need(2), (pos += 2), dv.getUint16(pos - 2, true));
  const u32 = () => (need(4), (pos += 4), dv.getUint32(pos - 4, true));
  const i32 = () => (need(4), (pos += 4), dv.getInt32(pos - 4, true));
  const u64 = () => {
    need(8);
    const v = Number(dv.getBigUint64(pos, true));
    pos += 8;
    return v;
  };
  const bytes = (n: number) => (need(n), (pos += n), buf.slice(pos - n, pos));
  const line = () => {
    const end = buf.indexOf(0x0a, pos);
    if (end < 0) throw new Error('pickle: truncated line');
    const s = td.decode(buf.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const popMark = (): Value[] => {
    for (let i = stack.length - 1; i >= 0; i--) {
      if (stack[i] === MARK) return stack.splice(i).slice(1);
    }
    throw new Error('pickle: MARK not found');
  };
  const top = () => {
    if (!stack.length) throw new Error('pickle: stack underflow');
    return stack[stack.length - 1];
  };
  const pop = () => {
    if (!stack.length) throw new Error('pickle: stack underflow');
    return stack.pop();
  };
  const setItems = (d: Value, kv: Value[]) => {
    if (!(d instanceof Map)) throw new Error('pickle: SETITEM on a non-dict');
    for (let i = 0; i + 1 < kv.length; i += 2) d.set(kv[i], kv[i + 1]);
  };
  const str = (b: Uint8Array) => td.decode(b);

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: u8(); break; // PROTO
      case 0x95: u64(); break; // FRAME: frames are contiguous in a file, nothing to do
      case 0x2e: return pop(); // STOP
      case 0x28: stack.push(MARK); break;
      case 0x4e: stack.push(null); break;
      case 0x88: stack.push(true); break;
      case 0x89: stack.push(false); break;
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(u16()); break; // BININT2
      case 0x4a: stack.push(i32()); break; // BININT
      case 0x8a: { // LONG1
        const n = u8();
        let v = 0n;
        const b = bytes(n);
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
        if (n && b[n - 1] & 0x80) v -= 1n << BigInt(8 * n);
        stack.push(Number(v));
        break;
      }
      case 0x47: { need(8); stack.push(dv.getFloat64(pos, false)); pos += 8; break; } // BINFLOAT
      case 0x58: stack.push(str(bytes(u32()))); break; // BINUNICODE
      case 0x8c: stack.push(str(bytes(u8()))); break; // SHORT_BINUNICODE
      case 0x8d: stack.push(str(bytes(u64()))); break; // BINUNICODE8
      case 0x55: stack.push(String.fromCharCode(...bytes(u8()))); break; // SHORT_BINSTRING
      case 0x54: stack.push(String.fromCharCode(...bytes(u32()))); break; // BINSTRING
      case 0x43: stack.push(bytes(u8())); break; // SHORT_BINBYTES
      case 0x42: stack.push(bytes(u32())); break; // BINBYTES
      case 0x8e: stack.push(bytes(u64())); break; // BINBYTES8
      case 0x96: stack.push(bytes(u64())); break; // BYTEARRAY8
      case 0x29: stack.push([]); break; // EMPTY_TUPLE
      case 0x85: stack.push([pop()]); break;
      case 0x86: { const b = pop(); const a = pop(); stack.push([a, b]); break; }
      case 0x87: { const c = pop(); const b = pop(); const a = pop(); stack.push([a, b, c]); break; }
      case 0x74: stack.push(popMark()); break; // TUPLE
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x6c: stack.push(popMark()); break; // LIST
      case 0x61: { const v = pop(); (top() as Value[]).push(v); break; } // APPEND
      case 0x65: { const vs = popMark(); (top() as Value[]).push(...vs); break; } // APPENDS
      case 0x7d: stack.push(new Map()); break; // EMPTY_DICT
      case 0x64: { const kv = popMark(); const d = new Map(); setItems(d, kv); stack.push(d); break; } // DICT
      case 0x73: { const v = pop(); const k = pop(); setItems(top(), [k, v]); break; } // SETITEM
      case 0x75: { const kv = popMark(); setItems(top(), kv); break; } // SETITEMS
      case 0x71: memo.set(u8(), top()); break; // BINPUT
      case 0x72: memo.set(u32(), top()); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x68: case 0x6a: { // BINGET, LONG_BINGET
        const k = op === 0x68 ? u8() : u32();
        if (!memo.has(k)) throw new Error(`pickle: memo ${k} missing`);
        stack.push(memo.get(k));
        break;
      }
      case 0x63: { // GLOBAL
        const module = line();
        const name = line();
        if (!ALLOWED.has(`${module}.${name}`)) throw new Error(`pickle: global ${module}.${name} is not allowed`);
        stack.push(new Global(module, name));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = String(pop());
        const module = String(pop());
        if (!ALLOWED.has(`${module}.${name}`)) throw new Error(`pickle: global ${module}.${name} is not allowed`);
        stack.push(new Global(module, name));
        break;
      }
      case 0x52: { const args = pop() as Value[]; const fn = pop(); stack.push(call(fn, args)); break; } // REDUCE
      case 0x81: { const args = pop() as Value[]; const cls = pop(); stack.push(call(cls, args)); break; } // NEWOBJ
      case 0x62: { const state = pop(); build(top(), state); break; } // BUILD
      default:
        throw new Error(`pickle: unsupported opcode 0x${op.toString(16)} at byte ${pos - 1}`);
    }
  }
}
