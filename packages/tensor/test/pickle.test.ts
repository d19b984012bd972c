// The one unpickler (GPU-free): the VM's errors, values and formats. The .pth reader's own cases are in
// io.test.ts; numpy's allowlist (@seco/data's .npy labels) is in packages/data/test/labels.test.ts.
import { describe, expect, test } from 'vitest';
import { PickleError, type PickleFormat, PickleGlobal, PickleObject, unpickle } from '../src/io/pickle/index.ts';
import { torchFormat } from '../src/io/torch-globals.ts';

const text = (s: string) => [...new TextEncoder().encode(s)];
/** A format that allows no global at all. */
const bare = (dicts: 'object' | 'map' = 'object', unlisted: 'refuse' | 'inert' = 'refuse'): PickleFormat => ({ name: 'test', unlisted, dicts, global: () => undefined });

describe('pickle VM', () => {
  test('errors name the place: truncation, stack, MARK, memo, unknown opcode', () => {
    const f = bare();
    expect(() => unpickle(Uint8Array.of(0x80, 2, 0x4b), f)).toThrow(/pickle data ends at byte 3 inside opcode 0x4b at offset 2: truncated/);
    expect(() => unpickle(Uint8Array.of(0x80, 2, 0x4b, 1), f)).toThrow(/without STOP/);
    expect(() => unpickle(Uint8Array.of(0x80, 2, 0x30, 0x2e), f)).toThrow(/stack underflow at offset 2/);
    expect(() => unpickle(Uint8Array.of(0x80, 2, 0x74, 0x2e), f)).toThrow(/no MARK on the stack at offset 2/);
    expect(() => unpickle(Uint8Array.of(0x80, 2, 0x68, 3, 0x2e), f)).toThrow(/memo key 3 is unset/);
    expect(() => unpickle(Uint8Array.of(0x80, 2, 0xa0, 0x2e), f)).toThrow(/unsupported pickle opcode 0xa0 at offset 2/);
  });

  test('one error type: the file (and archive member), the opcode and its offset', () => {
    const err = (() => {
      try {
        unpickle(Uint8Array.of(0x80, 2, 0xa0, 0x2e), bare(), { file: 'x.pth', member: 'archive/data.pkl' });
      } catch (e) {
        return e as PickleError;
      }
      throw new Error('no error');
    })();
    expect(err).toBeInstanceOf(PickleError);
    expect(err.message).toBe('x.pth: archive/data.pkl: unsupported pickle opcode 0xa0 at offset 2');
    expect([err.file, err.member, err.opcode, err.offset, err.global]).toEqual(['x.pth', 'archive/data.pkl', 0xa0, 2, null]);
    expect(() => unpickle(Uint8Array.of(0x80, 2), bare())).toThrow(/^<bytes>: pickle data ends at byte 2 without STOP: truncated$/);
  });

  test('protocol 2 and 3 values; object dicts keep __proto__ as a plain key', () => {
    // {'a': [1, -2, 2**70, 1.5, None, True], '__proto__': b'xy'} built with protocol 2 and 3 opcodes.
    const bytes = Uint8Array.of(
      0x80, 3, 0x7d, 0x28, 0x8c, 1, 0x61, 0x5d, 0x28, 0x4b, 1, 0x4a, 0xfe, 0xff, 0xff, 0xff, 0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0x40,
      0x47, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 0x4e, 0x88, 0x65, 0x8c, 9, ...text('__proto__'), 0x43, 2, 0x78, 0x79, 0x75, 0x2e,
    );
    const value = unpickle(bytes, bare()) as Record<string, unknown>;
    expect(value.a).toEqual([1, -2, 2n ** 70n, 1.5, null, true]);
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.keys(value)).toEqual(['a', '__proto__']);
    expect(value['__proto__']).toEqual(Uint8Array.of(0x78, 0x79));
    // The same pickle in a Map-dict format keeps the keys as they are.
    const map = unpickle(bytes, bare('map')) as Map<unknown, unknown>;
    expect(map).toBeInstanceOf(Map);
    expect([...map.keys()]).toEqual(['a', '__proto__']);
    // {1: bytearray(b'z')} with protocol 5's BYTEARRAY8: int keys stay ints in a Map.
    const ints = unpickle(Uint8Array.of(0x80, 5, 0x7d, 0x4b, 1, 0x96, 1, 0, 0, 0, 0, 0, 0, 0, 0x7a, 0x73, 0x2e), bare('map')) as Map<unknown, unknown>;
    expect([...ints]).toEqual([[1, Uint8Array.of(0x7a)]]);
  });

  test('globals: refused naming the global, or kept inert (never called)', () => {
    // pickle.dumps(os.system, protocol=2) style GLOBAL, then REDUCE ('ls',).
    const bytes = Uint8Array.of(0x80, 2, 0x63, ...text('os\nsystem\n'), 0x8c, 2, ...text('ls'), 0x85, 0x52, 0x2e);
    let err: PickleError | null = null;
    try {
      unpickle(bytes, bare(), { file: 'evil.pkl' });
    } catch (e) {
      err = e as PickleError;
    }
    expect(err).toBeInstanceOf(PickleError);
    expect(err!.message).toBe('evil.pkl: global os.system is not allowed in test pickles (at offset 2)');
    expect([err!.global, err!.opcode, err!.offset]).toEqual(['os.system', 0x63, 2]);
    const inert = unpickle(bytes, bare('object', 'inert'));
    expect(inert).toBeInstanceOf(PickleObject);
    expect(inert).toEqual(Object.assign(new PickleObject('os.system', ['ls']), { state: undefined }));
    expect(unpickle(Uint8Array.of(0x80, 2, 0x63, ...text('os\nsystem\n'), 0x2e), bare('object', 'inert'))).toEqual(new PickleGlobal('os', 'system'));
  });

  test('a format without persistent ids refuses them', () => {
    expect(() => unpickle(Uint8Array.of(0x80, 2, 0x4b, 1, 0x51, 0x2e), bare())).toThrow(/persistent id at offset 4: test pickles have none/);
  });
});

describe('torch.save format', () => {
  test("a state_dict's _metadata attribute (BUILD on an OrderedDict) does not become an entry", () => {
    const bytes = Uint8Array.of(
      0x80, 2, 0x63, ...text('collections\nOrderedDict\n'), 0x29, 0x52, // OrderedDict()
      0x28, 0x8c, 1, ...text('a'), 0x4b, 1, 0x75, // SETITEMS a=1
      0x7d, 0x8c, 9, ...text('_metadata'), 0x7d, 0x73, 0x62, 0x2e, // BUILD {'_metadata': {}}
    );
    expect(unpickle(bytes, torchFormat().format)).toEqual({ a: 1 });
  });

  test('special tensors are refused naming the global', () => {
    const bytes = Uint8Array.of(0x80, 2, 0x63, ...text('torch._utils\n_rebuild_qtensor\n'), 0x2e);
    expect(() => unpickle(bytes, torchFormat().format, { file: 'q.pth' })).toThrow(
      expect.objectContaining({ name: 'PickleError', global: 'torch._utils._rebuild_qtensor', message: 'q.pth: torch._utils._rebuild_qtensor is not supported (quantized, sparse or other special tensors)' }),
    );
  });
});
