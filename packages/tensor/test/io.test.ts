import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import * as T from '../src/index.ts';
import { floatToHalf, halfToFloat, type HostTensor, IoError, type TensorRecord } from '../src/index.ts';
import * as browserFs from '../src/io/fs-browser.ts';
import { bytesSource } from '../src/io/source.ts';
import { entryDataOffset, readZipDirectory } from '../src/io/zip.ts';
import { fixturesDir } from '../../../test/support/fixtures.ts';

interface Expected {
  tensors: Record<string, { shape: number[]; dtype: string; data: number[] }>;
  nested: { iter: number; note: string; model_key: string };
}

const io = (f: string) => join(fixturesDir, 'io', f);
let expected: Expected;
let dir: string;

beforeAll(async () => {
  await T.init();
  expected = JSON.parse(await readFile(io('expected.json'), 'utf8')) as Expected;
  dir = await mkdtemp(join(tmpdir(), 'seco-io-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const TORCH_DTYPE: Record<string, string> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16', I64: 'int64', I32: 'int32' };

/** Bit patterns, so that -0 / +0 and every float32 must match exactly. */
const f32Bits = (xs: ArrayLike<number>) => Array.from(new Uint32Array(Float32Array.from(xs).buffer));

function expectMatchesFixture(got: TensorRecord): void {
  expect(Object.keys(got).sort()).toEqual(Object.keys(expected.tensors).sort());
  for (const [name, want] of Object.entries(expected.tensors)) {
    const t = got[name];
    expect(t.shape, name).toEqual(want.shape);
    expect(TORCH_DTYPE[t.dtype], name).toBe(want.dtype);
    expect(t.data).toBeInstanceOf(Float32Array);
    expect(f32Bits(t.data), name).toEqual(f32Bits(want.data));
  }
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

describe('fixtures', () => {
  test('state_dict.pth matches expected.json exactly (f32, f16, 0-d, transposed and sliced views)', async () => {
    const value = await T.readPth(io('state_dict.pth'));
    expectMatchesFixture(value as TensorRecord);
    expectMatchesFixture(await T.readPthStateDict(io('state_dict.pth')));
  });

  test('nested_checkpoint.pth keeps non-tensor values and finds the state dict', async () => {
    const value = (await T.readPth(io('nested_checkpoint.pth'))) as Record<string, unknown>;
    expect(value.iter).toBe(expected.nested.iter);
    expect(value.note).toBe(expected.nested.note);
    expectMatchesFixture(value[expected.nested.model_key] as TensorRecord);
    expectMatchesFixture(await T.readPthStateDict(io('nested_checkpoint.pth')));
    const err = await rejection(T.readPthStateDict(io('nested_checkpoint.pth'), { key: 'iter' }));
    expect(err.message).toMatch(/nested_checkpoint\.pth: 'iter' is not a dict of tensors \(top-level keys: model, iter, note\)/);
  });

  test('state_dict.safetensors matches expected.json exactly, with its metadata', async () => {
    const file = await T.readSafetensors(io('state_dict.safetensors'));
    expectMatchesFixture(file.tensors);
    expect(file.metadata).toEqual({ format: 'pt' });
  });

  test('the same file through bytes and a Blob, and a subset by name', async () => {
    const bytes = await readFile(io('state_dict.safetensors'));
    expectMatchesFixture((await T.readSafetensors(new Uint8Array(bytes))).tensors);
    expectMatchesFixture((await T.readSafetensors(new Blob([bytes]))).tensors);
    const some = await T.readSafetensors(io('state_dict.safetensors'), { names: ['scalar', 'blocks.0.norm1.weight'] });
    expect(Object.keys(some.tensors)).toEqual(['scalar', 'blocks.0.norm1.weight']);
    const err = await rejection(T.readSafetensors(io('state_dict.safetensors'), { names: ['nope'] }));
    expect(err.message).toMatch(/state_dict\.safetensors: no tensor named 'nope'/);
  });

  test('uploadTensors puts every tensor on the GPU with the engine dtype', async () => {
    const record = await T.readPthStateDict(io('state_dict.pth'));
    const gpu = T.uploadTensors(record);
    for (const [name, want] of Object.entries(expected.tensors)) {
      expect(gpu[name].shape).toEqual(want.shape);
      expect(gpu[name].dtype).toBe('f32');
      expect(f32Bits(await gpu[name].data())).toEqual(f32Bits(want.data));
      gpu[name].dispose();
    }
  });
});

describe('bad input', () => {
  test('truncated files name the file and the problem', async () => {
    const st = await rejection(T.readSafetensors(io('truncated.safetensors')));
    expect(st).toBeInstanceOf(IoError);
    expect(st.message).toMatch(/truncated\.safetensors: tensor '.+': data_offsets \[\d+, \d+\] go past the end of the file .*truncated/);
    const pth = await rejection(T.readPth(io('truncated.pth')));
    expect(pth).toBeInstanceOf(IoError);
    expect(pth.message).toMatch(/truncated\.pth: zip end-of-central-directory record not found: the file is truncated/);
    const missing = await rejection(T.readPth(join(dir, 'absent.pth')));
    expect(missing.message).toMatch(/absent\.pth: cannot open/);
  });

  // A valid header + data from the fixture, with the header replaced.
  async function withHeader(header: unknown, dataBytes?: Uint8Array): Promise<Uint8Array> {
    const orig = new Uint8Array(await readFile(io('state_dict.safetensors')));
    const n = Number(new DataView(orig.buffer, orig.byteOffset).getBigUint64(0, true));
    const data = dataBytes ?? orig.subarray(8 + n);
    const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
    const out = new Uint8Array(8 + json.length + data.length);
    new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
    out.set(json, 8);
    out.set(data, 8 + json.length);
    return out;
  }

  const bad = async (bytes: Uint8Array) => (await rejection(T.readSafetensors(bytesSource(bytes, 'bad.safetensors')))).message;

  test('corrupt safetensors headers', async () => {
    const e = (dtype: string, shape: number[], offs: number[]) => ({ dtype, shape, data_offsets: offs });
    const eight = new Uint8Array(8);
    expect(await bad(new Uint8Array(5))).toBe('bad.safetensors: file is 5 bytes, too short for the 8-byte safetensors header length');
    const huge = new Uint8Array(16);
    new DataView(huge.buffer).setBigUint64(0, 1n << 40n, true);
    expect(await bad(huge)).toMatch(/header length 1099511627776 is implausible/);
    new DataView(huge.buffer).setBigUint64(0, 100n, true);
    expect(await bad(huge)).toBe('bad.safetensors: header length 100 goes past the end of the file (16 bytes): truncated');
    expect(await bad(await withHeader('{"a": ', eight))).toMatch(/bad\.safetensors: header is not valid JSON/);
    expect(await bad(await withHeader('[1, 2]', eight))).toMatch(/header is not a JSON object/);
    expect(await bad(await withHeader({ x: e('Q7', [2], [0, 8]) }, eight))).toBe(`bad.safetensors: tensor 'x': unknown dtype "Q7"`);
    expect(await bad(await withHeader({ x: e('F8_E4M3', [8], [0, 8]) }, eight))).toMatch(/tensor 'x': dtype F8_E4M3 is not supported/);
    expect(await bad(await withHeader({ x: e('F32', [-2], [0, 8]) }, eight))).toMatch(/tensor 'x': bad shape \[-2\]/);
    expect(await bad(await withHeader({ x: e('F32', [2], [8, 0]) }, eight))).toMatch(/tensor 'x': bad data_offsets \[8,0\]/);
    expect(await bad(await withHeader({ x: e('F32', [3], [0, 8]) }, eight))).toMatch(/tensor 'x': data_offsets \[0, 8\] hold 8 bytes, but F32 \[3\] needs 12/);
    expect(await bad(await withHeader({ x: e('F32', [2], [0, 8]), y: e('F32', [1], [4, 8]) }, eight))).toMatch(/tensor 'y' at \[4, 8\] overlaps tensor 'x'/);
    expect(await bad(await withHeader({ x: e('F32', [1], [4, 8]) }, eight))).toMatch(/tensor 'x' starts at 4, leaving a gap after the header/);
    expect(await bad(await withHeader({ x: e('F32', [1], [0, 4]) }, eight))).toMatch(/4 bytes after the last tensor/);
    expect(await bad(await withHeader({ x: e('F32', [4], [0, 16]) }, eight))).toMatch(/tensor 'x': data_offsets \[0, 16\] go past the end of the file \(data section has 8 bytes\)/);
    expect(await bad(await withHeader({ __metadata__: { a: 1 }, x: e('F32', [2], [0, 8]) }, eight))).toMatch(/__metadata__ must map strings to strings/);
    const notUtf8 = await withHeader('{}  ', eight);
    notUtf8[9] = 0xff;
    expect(await bad(notUtf8)).toMatch(/header is not valid UTF-8/);
  });

  test('int64 values outside int32 are refused with the tensor named', async () => {
    const bytes = await T.serializeSafetensors({ ok: { data: [-5, 7], dtype: 'I64' }, big: { data: [1, 2 ** 40], dtype: 'I64' } });
    expect(await bad(bytes)).toBe("bad.safetensors: tensor 'big': I64 value 1099511627776 at element 1 does not fit in int32");
  });

  async function pthBytes(): Promise<{ bytes: Uint8Array; pkl: number; pklSize: number }> {
    const bytes = new Uint8Array(await readFile(io('state_dict.pth')));
    const entries = await readZipDirectory(bytesSource(bytes));
    const entry = entries.get('state_dict/data.pkl')!;
    return { bytes, pkl: await entryDataOffset(bytesSource(bytes), entry), pklSize: entry.size };
  }
  const badPth = async (bytes: Uint8Array, verifyCrc = true) => (await rejection(T.readPth(bytesSource(bytes, 'bad.pth'), { verifyCrc }))).message;

  test('corrupt .pth files', async () => {
    const { bytes, pkl, pklSize } = await pthBytes();
    const notZip = bytes.slice();
    notZip.set([0x12, 0x34, 0x56, 0x78]);
    notZip.set(new Uint8Array(64), notZip.length - 64); // no end record either
    expect(await badPth(notZip)).toBe('bad.pth: bad zip signature 0x78563412 at offset 0: not a zip archive');
    expect(await badPth(Uint8Array.of(0x80, 0x02, 0x8a, 0x0a))).toMatch(/bad\.pth: legacy \(pre-1\.6, non-zip\) torch\.save format/);

    // An opcode the VM does not know (INST, protocol 0) in place of the first EMPTY_DICT.
    const opcode = bytes.slice();
    expect(opcode[pkl + 2]).toBe(0x7d);
    opcode[pkl + 2] = 0x69;
    expect(await badPth(opcode)).toBe("bad.pth: zip entry 'state_dict/data.pkl': CRC-32 mismatch: corrupt");
    expect(await badPth(opcode, false)).toBe("bad.pth: state_dict/data.pkl: unsupported pickle opcode 0x69 ('i') at offset 2");

    // The sliced view's storage offset pushed past its storage.
    const pickle = bytes.subarray(pkl, pkl + pklSize);
    const at = findSeq(pickle, [0x51, 0x4b, 0x09, 0x4b, 0x03, 0x4b, 0x04, 0x86]);
    expect(at).toBeGreaterThan(0);
    const view = bytes.slice();
    view[pkl + at + 2] = 40;
    expect(await badPth(view, false)).toBe(
      "bad.pth: tensor F32 [3, 4] (storage '7', offset 40, strides [7, 1]) reaches element 57 of a 42-element storage",
    );

    // A storage entry whose name no longer matches.
    const renamed = bytes.slice();
    for (const at of findAll(renamed, new TextEncoder().encode('state_dict/data/7'))) renamed[at + 'state_dict/data/'.length] = 0x38;
    expect(await badPth(renamed)).toBe("bad.pth: storage '7' is missing (no entry state_dict/data/7)");
  });

  test('zip64 central directories are read', async () => {
    const bytes = new Uint8Array(await readFile(io('state_dict.pth')));
    expectMatchesFixture((await T.readPth(bytesSource(toZip64(bytes), 'zip64.pth'))) as TensorRecord);
  });
});

function findAll(hay: Uint8Array, needle: ArrayLike<number>): number[] {
  const out: number[] = [];
  for (let i = 0; i + needle.length <= hay.length; i++) {
    let ok = true;
    for (let j = 0; j < needle.length && ok; j++) ok = hay[i + j] === needle[j];
    if (ok) out.push(i);
  }
  return out;
}
const findSeq = (hay: Uint8Array, needle: number[]) => findAll(hay, needle)[0] ?? -1;

/** Rewrites a zip so every central entry and the end record use zip64 fields (as writers do past 4 GiB). */
function toZip64(zip: Uint8Array): Uint8Array {
  const v = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  const eocd = zip.length - 22;
  expect(v.getUint32(eocd, true)).toBe(0x06054b50);
  const count = v.getUint16(eocd + 10, true);
  const cdOffset = v.getUint32(eocd + 16, true);
  const parts: Uint8Array[] = [zip.subarray(0, cdOffset)];
  let p = cdOffset;
  let cdSize = 0;
  for (let i = 0; i < count; i++) {
    const nameLen = v.getUint16(p + 28, true);
    const extraLen = v.getUint16(p + 30, true);
    const commentLen = v.getUint16(p + 32, true);
    const fixed = zip.slice(p, p + 46 + nameLen);
    const f = new DataView(fixed.buffer);
    const extra = new Uint8Array(4 + 24);
    const x = new DataView(extra.buffer);
    x.setUint16(0, 1, true);
    x.setUint16(2, 24, true);
    x.setBigUint64(4, BigInt(f.getUint32(24, true)), true);
    x.setBigUint64(12, BigInt(f.getUint32(20, true)), true);
    x.setBigUint64(20, BigInt(f.getUint32(42, true)), true);
    for (const off of [20, 24, 42]) f.setUint32(off, 0xffffffff, true);
    f.setUint16(30, extra.length + extraLen, true);
    f.setUint16(32, 0, true);
    parts.push(fixed, extra, zip.slice(p + 46 + nameLen, p + 46 + nameLen + extraLen));
    cdSize += fixed.length + extra.length + extraLen;
    p += 46 + nameLen + extraLen + commentLen;
  }
  const rec = new DataView(new ArrayBuffer(56 + 20 + 22));
  rec.setUint32(0, 0x06064b50, true);
  rec.setBigUint64(4, 44n, true);
  rec.setBigUint64(24, BigInt(count), true);
  rec.setBigUint64(32, BigInt(count), true);
  rec.setBigUint64(40, BigInt(cdSize), true);
  rec.setBigUint64(48, BigInt(cdOffset), true);
  rec.setUint32(56, 0x07064b50, true);
  rec.setBigUint64(64, BigInt(cdOffset + cdSize), true);
  rec.setUint32(72, 1, true);
  rec.setUint32(76, 0x06054b50, true);
  for (const off of [84, 86]) rec.setUint16(off, 0xffff, true);
  for (const off of [88, 92]) rec.setUint32(off, 0xffffffff, true);
  parts.push(new Uint8Array(rec.buffer));
  const out = new Uint8Array(parts.reduce((n, q) => n + q.length, 0));
  let o = 0;
  for (const q of parts) {
    out.set(q, o);
    o += q.length;
  }
  return out;
}

describe('safetensors write', () => {
  test('fixture round trip: same bytes, f16 kept as f16', async () => {
    const orig = new Uint8Array(await readFile(io('state_dict.safetensors')));
    const { tensors, metadata } = await T.readSafetensors(orig);
    const again = await T.serializeSafetensors(tensors as Record<string, HostTensor>, { metadata });
    // The same file byte for byte: header layout and padding as the reference writer, f16 re-encoded exactly.
    expect(again).toEqual(orig);
    const header = await T.readSafetensorsHeader(orig);
    expect(header.entries.map((e) => [e.name, e.dtype])).toContainEqual(['blocks.0.norm1.weight', 'F16']);
    expect((await T.readSafetensors(again)).metadata).toEqual({ format: 'pt' });
    expectMatchesFixture((await T.readSafetensors(again)).tensors);
  });

  test('GPU tensors and host arrays of every dtype, with metadata, to a file and back', async () => {
    const x = T.tensor([[1.5, -2, 0], [-0, 3.25, 1e-30]]);
    const idx = T.tensor([3, -1, 7], [3], 'i32');
    const half = T.tensor([65504, -0.1, 1e-7], [3], 'f16');
    const inputs = {
      x,
      idx,
      half,
      f64: { data: [0.1, -1e300, 2], dtype: 'F64' as const },
      bf16: { data: [1, -2.5, 3.140625], shape: [3, 1], dtype: 'BF16' as const },
      f16: { data: [65504, -6.103515625e-5, 5.960464477539063e-8], dtype: 'F16' as const },
      i64: { data: [-(2 ** 31), 2 ** 31 - 1, 0], dtype: 'I64' as const },
      i16: { data: [-32768, 5], dtype: 'I16' as const },
      i8: { data: [-128, 127], dtype: 'I8' as const },
      u8: new Uint8Array([0, 255, 9]),
      u16: { data: [65535], dtype: 'U16' as const },
      u32: new Uint32Array([4294967295, 0]),
      bool: { data: [1, 0, 1], dtype: 'BOOL' as const },
      empty: { data: [], shape: [0, 4] },
      scalar: { data: [7], shape: [] },
    };
    const path = join(dir, 'all.safetensors');
    await T.writeSafetensors(path, inputs, { metadata: { note: 'round trip', 'ünï': 'çødé' } });
    const back = await T.readSafetensors(path);
    expect(back.metadata).toEqual({ note: 'round trip', 'ünï': 'çødé' });
    const want: Record<string, [string, number[], number[]]> = {
      x: ['F32', [2, 3], [1.5, -2, 0, -0, 3.25, Math.fround(1e-30)]],
      idx: ['I32', [3], [3, -1, 7]],
      // An f16 GPU tensor is stored as F16: its halves, exactly (0.1 and 1e-7 as rounded on upload).
      half: ['F16', [3], [65504, -0.0999755859375, 1.1920928955078125e-7]],
      f64: ['F64', [3], [Math.fround(0.1), -Infinity, 2]],
      bf16: ['BF16', [3, 1], [1, -2.5, 3.140625]],
      f16: ['F16', [3], [65504, -6.103515625e-5, 5.960464477539063e-8]],
      i64: ['I64', [3], [-(2 ** 31), 2 ** 31 - 1, 0]],
      i16: ['I16', [2], [-32768, 5]],
      i8: ['I8', [2], [-128, 127]],
      u8: ['U8', [3], [0, 255, 9]],
      u16: ['U16', [1], [65535]],
      u32: ['U32', [2], [4294967295, 0]],
      bool: ['BOOL', [3], [1, 0, 1]],
      empty: ['F32', [0, 4], []],
      scalar: ['F32', [], [7]],
    };
    expect(Object.keys(back.tensors)).toEqual(Object.keys(want));
    for (const [name, [dtype, shape, data]] of Object.entries(want)) {
      const t = back.tensors[name];
      expect([t.dtype, t.shape], name).toEqual([dtype, shape]);
      expect(Array.from(t.data).map((v) => (Object.is(v, -0) ? '-0' : v)), name).toEqual(data.map((v) => (Object.is(v, -0) ? '-0' : v)));
    }
    expect(back.tensors.idx.data).toBeInstanceOf(Int32Array);
    expect(back.tensors.u8.data).toBeInstanceOf(Uint32Array);
    x.dispose();
    idx.dispose();
    half.dispose();
  });

  test('bad write inputs fail before the file is touched', async () => {
    const path = join(dir, 'never.safetensors');
    const cases: [Record<string, T.TensorInput>, RegExp][] = [
      [{ a: { data: [1, 2, 3], shape: [2, 2] } }, /never\.safetensors: tensor 'a': 3 values do not fill shape \[2, 2\]/],
      [{ a: { data: [300], dtype: 'U8' } }, /tensor 'a': value 300 at element 0 is not a valid U8/],
      [{ a: { data: [1.5], dtype: 'I32' } }, /tensor 'a': value 1.5 at element 0 is not a valid I32/],
      [{ a: { data: [1], dtype: 'Q8' as T.FileDType } }, /tensor 'a': unknown dtype "Q8"/],
      [{ __metadata__: { data: [1] } }, /'__metadata__' cannot be a tensor name/],
    ];
    for (const [inputs, message] of cases) expect((await rejection(T.writeSafetensors(path, inputs))).message).toMatch(message);
    const gone = T.tensor([1]);
    gone.dispose();
    expect((await rejection(T.writeSafetensors(path, { gone }))).message).toMatch(/used after dispose/);
    expect((await rejection(T.writeSafetensors(path, { a: { data: [1] } }, { metadata: { n: 1 as unknown as string } }))).message).toMatch(/metadata 'n' must be a string/);
    expect(await readdir(dir)).not.toContain('never.safetensors');
  });

  test('half and bfloat16 conversions', () => {
    // Every finite half survives half -> float -> half; NaNs stay NaN.
    for (let h = 0; h < 0x10000; h++) {
      const f = halfToFloat(h);
      if (Number.isNaN(f)) expect((h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0).toBe(true);
      else expect(floatToHalf(f)).toBe(h);
    }
    expect(halfToFloat(0x3c00)).toBe(1);
    expect(halfToFloat(0x0001)).toBe(2 ** -24);
    expect(halfToFloat(0xfbff)).toBe(-65504);
    // Rounding: the nearest half, ties to an even mantissa, overflow to infinity.
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    for (let i = 0; i < 20000; i++) {
      const x = Math.fround((rnd() - 0.5) * 2 ** (rnd() * 44 - 28));
      const h = floatToHalf(x);
      const err = Math.abs(halfToFloat(h) - x);
      for (const n of [h - 1, h + 1]) {
        if ((n & 0x7fff) >= 0x7c00 || n < 0 || (n & 0x7fff) === 0x7fff || (n ^ h) & 0x8000) continue;
        const other = Math.abs(halfToFloat(n) - x);
        expect(err <= other, `${x}`).toBe(true);
        if (err === other) expect(h & 1).toBe(0);
      }
    }
    // Exact ties go to the even neighbour, for normals and subnormals.
    expect(floatToHalf(1 + 2 ** -11)).toBe(0x3c00);
    expect(floatToHalf(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(floatToHalf(3 * 2 ** -25)).toBe(2);
    expect(floatToHalf(5 * 2 ** -25)).toBe(2);
    expect(floatToHalf(65520)).toBe(0x7c00);
    expect(floatToHalf(65519.99)).toBe(0x7bff);
    expect(floatToHalf(2 ** -25)).toBe(0); // tie between 0 and the smallest subnormal: even
    expect(floatToHalf(Math.fround(2 ** -25 * 1.0001))).toBe(1);
    const bf = T.encodeElements([1 + 2 ** -8, 1 + 3 * 2 ** -8, -Infinity, NaN], 'BF16');
    expect(Array.from(new Uint16Array(bf.buffer))).toEqual([0x3f80, 0x3f82, 0xff80, 0x7fc0]);
  });
});

describe('checkpoints', () => {
  /** Any caller's tag: the engine writes and accepts the one it is given. */
  const FORMAT = 'test-checkpoint/1';

  test('round trip of tensors, step, RNG state and metadata; the restored RNG continues the same stream', async () => {
    const gen = new T.Generator(20240607);
    T.rand([5], 0, 1, gen).dispose();
    const w = T.randn([3, 4], 0, 1, gen);
    const path = join(dir, 'ckpt.safetensors');
    const meta = { config: { lr: 6e-5, layers: [1, 2, 3] }, note: 'ünicode', best: null };
    await T.saveCheckpoint(path, {
      format: FORMAT,
      tensors: { 'model.w': w, 'optim.exp_avg.0': { data: new Float32Array([0.5, -0.25]) }, 'optim.step_count': { data: [3], dtype: 'I64' } },
      step: 1234,
      rng: { engine: gen.state() },
      meta,
    });
    const ck = await T.loadCheckpoint(path, { format: FORMAT });
    expect(ck.step).toBe(1234);
    expect(ck.meta).toEqual(meta);
    expect(ck.rng).toEqual({ engine: { seed: 20240607, draws: 2 } });
    expect(f32Bits(ck.tensors['model.w'].data)).toEqual(f32Bits(await w.data()));
    expect(Array.from(ck.tensors['optim.exp_avg.0'].data)).toEqual([0.5, -0.25]);
    expect(ck.tensors['optim.step_count']).toEqual({ dtype: 'I64', shape: [1], data: Int32Array.of(3) });
    // names: only the model, as inference reads it (the optimizer moments stay on disk).
    const modelOnly = await T.loadCheckpoint(path, { names: ['model.w'], format: FORMAT });
    expect(Object.keys(modelOnly.tensors)).toEqual(['model.w']);
    expect(modelOnly.meta).toEqual(meta);
    expect(f32Bits(modelOnly.tensors['model.w'].data)).toEqual(f32Bits(ck.tensors['model.w'].data));

    const restored = new T.Generator();
    restored.setState((ck.rng as { engine: { seed: number; draws: number } }).engine);
    const a = T.rand([64], 0, 1, gen);
    const b = T.rand([64], 0, 1, restored);
    expect(f32Bits(await b.data())).toEqual(f32Bits(await a.data()));
    for (const t of [w, a, b]) t.dispose();

    // The same checkpoint as bytes (the browser path) reads back identically.
    const bytes = await T.serializeCheckpoint({ format: FORMAT, tensors: { x: { data: [1, 2] } }, step: 0, meta: { a: 1 } });
    expect(await T.loadCheckpoint(bytes, { format: FORMAT })).toEqual({ tensors: { x: { dtype: 'F32', shape: [2], data: Float32Array.of(1, 2) } }, step: 0, rng: null, meta: { a: 1 } });
  });

  test('a plain safetensors file is not a checkpoint; bad fields are refused', async () => {
    const err = await rejection(T.loadCheckpoint(io('state_dict.safetensors'), { format: FORMAT }));
    expect(err.message).toMatch(/state_dict\.safetensors: not a checkpoint: __metadata__ has no checkpoint_format/);
    const path = join(dir, 'bad-step.safetensors');
    expect((await rejection(T.saveCheckpoint(path, { format: FORMAT, tensors: {}, step: -1 }))).message).toMatch(/bad-step\.safetensors: checkpoint step must be a non-negative integer/);
    expect((await rejection(T.saveCheckpoint(path, { format: FORMAT, tensors: {}, meta: { n: 1n } as unknown as T.JsonValue }))).message).toMatch(/checkpoint meta is not JSON-serialisable/);
    const forged = await T.serializeSafetensors({}, { metadata: { checkpoint_format: FORMAT, step: '12x', meta: '{' } });
    expect((await rejection(T.loadCheckpoint(forged, { format: FORMAT }))).message).toMatch(/<bytes>: checkpoint step "12x" is not a non-negative integer/);
    const future = await T.serializeSafetensors({}, { metadata: { checkpoint_format: 'test-checkpoint/9' } });
    expect((await rejection(T.loadCheckpoint(future, { format: FORMAT }))).message).toMatch(/unsupported checkpoint format "test-checkpoint\/9" \(this version reads test-checkpoint\/1\)/);
  });

  test('a failure in the middle of a save leaves the previous checkpoint intact', async () => {
    const sub = await mkdtemp(join(dir, 'atomic-'));
    const path = join(sub, 'last.safetensors');
    await T.saveCheckpoint(path, { format: FORMAT, tensors: { w: { data: [1, 2, 3] } }, step: 1 });
    const before = await readFile(path);
    // The second tensor's readback fails after the header and the first tensor are already written.
    const good = T.tensor(new Float32Array(4096).fill(7));
    const lost = T.tensor([4, 5, 6]);
    lost.data = async () => {
      throw new Error('device lost');
    };
    const err = await rejection(T.saveCheckpoint(path, { format: FORMAT, tensors: { good, lost }, step: 2 }));
    expect(err).toBeInstanceOf(IoError);
    expect(err.message).toBe(`${path}: write failed, previous file left unchanged: device lost`);
    expect(await readFile(path)).toEqual(before);
    expect(await readdir(sub)).toEqual(['last.safetensors']); // the temp file is gone
    expect((await T.loadCheckpoint(path, { format: FORMAT })).step).toBe(1);
    // A later save that succeeds replaces the file.
    await T.saveCheckpoint(path, { format: FORMAT, tensors: { good }, step: 3 });
    expect((await T.loadCheckpoint(path, { format: FORMAT })).step).toBe(3);
    expect(await readdir(sub)).toEqual(['last.safetensors']);
    good.dispose();
    lost.dispose();
  });

  test('a stale temp file from a crashed process does not block or replace the checkpoint', async () => {
    const sub = await mkdtemp(join(dir, 'crash-'));
    const path = join(sub, 'c.safetensors');
    await T.saveCheckpoint(path, { format: FORMAT, tensors: { w: { data: [1] } }, step: 5 });
    await writeFile(join(sub, `.c.safetensors.${process.pid}.999999.tmp`), new Uint8Array(10)); // half-written by a crash
    expect((await T.loadCheckpoint(path, { format: FORMAT })).step).toBe(5);
    await T.saveCheckpoint(path, { format: FORMAT, tensors: { w: { data: [2] } }, step: 6 });
    expect((await T.loadCheckpoint(path, { format: FORMAT })).step).toBe(6);
  });
});

describe('compareKeys', () => {
  test('lists missing, unexpected and mis-shaped keys', async () => {
    const record = await T.readPthStateDict(io('state_dict.pth'));
    const want = Object.fromEntries(Object.entries(expected.tensors).map(([k, v]) => [k, v.shape]));
    expect(T.compareKeys(record, want)).toEqual({ missing: [], unexpected: [], mismatched: [], ok: true });
    delete want.scalar;
    want['head.weight'] = [10, 8];
    want.pos_embed = [1, 197, 8];
    const r = T.compareKeys(record, Object.entries(want));
    expect(r).toEqual({
      missing: ['head.weight'],
      unexpected: ['scalar'],
      mismatched: [{ name: 'pos_embed', expected: [1, 197, 8], got: [1, 5, 8] }],
      ok: false,
    });
    expect(T.formatKeyReport(r)).toBe('missing 1: head.weight; unexpected 1: scalar; shape mismatch 1: pos_embed [1, 5, 8] vs expected [1, 197, 8]');
  });
});

describe('platforms', () => {
  test('only the Node file module imports Node built-ins', async () => {
    const srcDir = new URL('../src/io/', import.meta.url);
    const files = (await readdir(srcDir)).filter((f) => f.endsWith('.ts'));
    expect(files).toContain('fs-node.ts');
    for (const f of files) {
      const text = await readFile(new URL(f, srcDir), 'utf8');
      const nodeImports = /from '(node:[^']+|fs|path|os)'/.test(text);
      expect(nodeImports, f).toBe(f === 'fs-node.ts');
    }
  });

  test('the browser entry fetches URLs and refuses path writes', async () => {
    const bytes = await readFile(io('state_dict.safetensors'));
    const url = `data:application/octet-stream;base64,${bytes.toString('base64')}`;
    const src = await browserFs.openFileSource(url);
    expectMatchesFixture((await T.readSafetensors(src)).tensors);
    const err = await rejection(browserFs.writeFileAtomic('ckpt.safetensors', async () => {}));
    expect(err.message).toMatch(/ckpt\.safetensors: writing files by path needs Node/);
  });
});
