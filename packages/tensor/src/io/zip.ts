// A minimal zip reader for torch.save archives: central directory (zip64 aware) and stored (uncompressed)
// entries, read one at a time from a byte source.
import { crc32 } from './crc32.ts';
import { IoError } from './errors.ts';
import type { ByteSource } from './source.ts';

export interface ZipEntry {
  name: string;
  method: number;
  flags: number;
  crc32: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;
const EOCD_BYTES = 22;
const MAX_COMMENT = 0xffff;

function u64(v: DataView, off: number, file: string, what: string): number {
  const n = v.getBigUint64(off, true);
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new IoError(file, `zip ${what} ${n} is too large`);
  return Number(n);
}

function viewOf(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/** Finds the end-of-central-directory record (it may be followed by a comment of up to 64 KiB). */
async function findEnd(src: ByteSource): Promise<{ tail: Uint8Array; tailStart: number; pos: number }> {
  const tailLen = Math.min(src.size, EOCD_BYTES + MAX_COMMENT);
  const tailStart = src.size - tailLen;
  const tail = await src.read(tailStart, tailLen);
  const v = viewOf(tail);
  for (let i = tailLen - EOCD_BYTES; i >= 0; i--) {
    if (v.getUint32(i, true) === SIG_EOCD && i + EOCD_BYTES + v.getUint16(i + 20, true) <= tailLen) return { tail, tailStart, pos: i };
  }
  const head = src.size >= 4 ? viewOf(await src.read(0, 4)).getUint32(0, true) : 0;
  if (head === SIG_LOCAL) throw new IoError(src.name, 'zip end-of-central-directory record not found: the file is truncated');
  throw new IoError(src.name, `bad zip signature 0x${head.toString(16).padStart(8, '0')} at offset 0: not a zip archive`);
}

/** Reads the central directory: every entry by name. */
export async function readZipDirectory(src: ByteSource): Promise<Map<string, ZipEntry>> {
  const file = src.name;
  const { tail, tailStart, pos } = await findEnd(src);
  const e = viewOf(tail);
  let count = e.getUint16(pos + 10, true);
  let cdSize = e.getUint32(pos + 12, true);
  let cdOffset = e.getUint32(pos + 16, true);
  if (e.getUint16(pos + 4, true) !== e.getUint16(pos + 6, true)) throw new IoError(file, 'multi-disk zip archives are not supported');
  // Zip64: a locator sits right before the classic record whenever the writer needed 64-bit fields.
  if (pos >= 20 && e.getUint32(pos - 20, true) === SIG_ZIP64_LOCATOR) {
    const recOffset = u64(e, pos - 12, file, 'zip64 record offset');
    if (recOffset + 56 > tailStart + pos - 20) throw new IoError(file, `zip64 end record offset ${recOffset} is out of range: corrupt`);
    const rec = viewOf(await src.read(recOffset, 56));
    if (rec.getUint32(0, true) !== SIG_ZIP64_EOCD) throw new IoError(file, `bad zip64 end record signature at offset ${recOffset}`);
    count = u64(rec, 32, file, 'entry count');
    cdSize = u64(rec, 40, file, 'central directory size');
    cdOffset = u64(rec, 48, file, 'central directory offset');
  }
  if (cdOffset + cdSize > src.size) {
    throw new IoError(file, `zip central directory [${cdOffset}, ${cdOffset + cdSize}) lies past the end of the file (${src.size} bytes): truncated or corrupt`);
  }
  const cd = await src.read(cdOffset, cdSize);
  const v = viewOf(cd);
  const names = new TextDecoder();
  const entries = new Map<string, ZipEntry>();
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cdSize || v.getUint32(p, true) !== SIG_CENTRAL) {
      throw new IoError(file, `bad zip central directory entry ${i} at offset ${cdOffset + p}: corrupt`);
    }
    const nameLen = v.getUint16(p + 28, true);
    const extraLen = v.getUint16(p + 30, true);
    const commentLen = v.getUint16(p + 32, true);
    if (p + 46 + nameLen + extraLen + commentLen > cdSize) throw new IoError(file, `zip central directory entry ${i} runs past the directory: corrupt`);
    const name = names.decode(cd.subarray(p + 46, p + 46 + nameLen));
    let size = v.getUint32(p + 24, true);
    let compressedSize = v.getUint32(p + 20, true);
    let localHeaderOffset = v.getUint32(p + 42, true);
    // Zip64 extra field: 64-bit values for exactly those fields that hold 0xFFFFFFFF, in this order.
    for (let x = p + 46 + nameLen; x + 4 <= p + 46 + nameLen + extraLen; ) {
      const id = v.getUint16(x, true);
      const len = v.getUint16(x + 2, true);
      if (id === 0x0001) {
        let q = x + 4;
        const next = (what: string) => {
          if (q + 8 > x + 4 + len) throw new IoError(file, `zip64 extra field of '${name}' lacks the ${what}`);
          const val = u64(v, q, file, what);
          q += 8;
          return val;
        };
        if (size === 0xffffffff) size = next('size');
        if (compressedSize === 0xffffffff) compressedSize = next('compressed size');
        if (localHeaderOffset === 0xffffffff) localHeaderOffset = next('local header offset');
      }
      x += 4 + len;
    }
    entries.set(name, {
      name,
      method: v.getUint16(p + 10, true),
      flags: v.getUint16(p + 8, true),
      crc32: v.getUint32(p + 16, true),
      compressedSize,
      size,
      localHeaderOffset,
    });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

/** Where an entry's data starts (the local header's own name and extra lengths may differ from the directory's). */
export async function entryDataOffset(src: ByteSource, entry: ZipEntry): Promise<number> {
  if (entry.localHeaderOffset + 30 > src.size) {
    throw new IoError(src.name, `zip entry '${entry.name}': local header at ${entry.localHeaderOffset} is past the end of the file (${src.size} bytes): truncated`);
  }
  const h = viewOf(await src.read(entry.localHeaderOffset, 30));
  if (h.getUint32(0, true) !== SIG_LOCAL) {
    throw new IoError(src.name, `zip entry '${entry.name}': bad local header signature at offset ${entry.localHeaderOffset}: corrupt`);
  }
  return entry.localHeaderOffset + 30 + h.getUint16(26, true) + h.getUint16(28, true);
}

/** An entry's bytes; only stored entries (torch writes every entry uncompressed). Checks the CRC unless told not to. */
export async function readZipEntry(src: ByteSource, entry: ZipEntry, verifyCrc = true): Promise<Uint8Array> {
  if (entry.method !== 0) {
    throw new IoError(src.name, `zip entry '${entry.name}' is compressed (method ${entry.method}); only stored entries are supported, as torch.save writes`);
  }
  if (entry.flags & 1) throw new IoError(src.name, `zip entry '${entry.name}' is encrypted`);
  const start = await entryDataOffset(src, entry);
  if (start + entry.size > src.size) {
    throw new IoError(src.name, `zip entry '${entry.name}' ([${start}, ${start + entry.size})) goes past the end of the file (${src.size} bytes): truncated`);
  }
  const bytes = await src.read(start, entry.size);
  if (verifyCrc && crc32(bytes) !== entry.crc32) throw new IoError(src.name, `zip entry '${entry.name}': CRC-32 mismatch: corrupt`);
  return bytes;
}
