// Per-image evaluation records: one JSON line per scored image (its confusion-matrix counts), appended as the
// evaluation goes. A killed evaluation resumes where it stopped, and the shards of one list (`--shard i/n`, one
// job each) merge into exactly the confusion matrix a single run gives: counts are integers, so the order of the
// sums does not matter.
import { createHash } from 'node:crypto';
import { appendFile, readdir, readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfusionMatrix } from '@seco/models';

export const RECORDS_FORMAT = 'seco-eval-records/1';

export interface Shard {
  index: number;
  count: number;
}

export const WHOLE: Shard = { index: 0, count: 1 };

/** `i/n` with 0 <= i < n. */
export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!(count >= 1 && index >= 0 && index < count)) throw new Error(`--shard: expected i/n with 0 <= i < n (e.g. 0/4), got '${text}'`);
  return { index, count };
}

/** The positions of a list that a shard scores: every n-th from i, so shards get near-equal shares. */
export function shardPositions(total: number, s: Shard): number[] {
  const out: number[] = [];
  for (let j = s.index; j < total; j += s.count) out.push(j);
  return out;
}

export const recordsFile = (dir: string, s: Shard) => join(dir, `records-${s.index}-of-${s.count}.jsonl`);

/** What the records were made from; a file made from anything else is not resumed. */
export interface RecordsHeader {
  format: typeof RECORDS_FORMAT;
  /** 'seg' or 'cam'. */
  mode: string;
  /** Class names, background first. */
  classes: string[];
  shard: [number, number];
  /** Images this shard scores. */
  images: number;
  /** sha256 of the whole list's ids (every shard of one evaluation has the same). */
  list: string;
  /** sha256 of the checkpoint file. */
  checkpoint: string;
  /** sha256 of what the predictions depend on besides the checkpoint (model size, scales, flip, CRF, ...). */
  settings: string;
}

export const digestOf = (text: string) => createHash('sha256').update(text).digest('hex');

interface Line {
  id: string;
  /** Non-zero confusion-matrix cells: [row * classes + column, count]. */
  hist: [number, number][];
}

/** Parses a records file; a torn last line (a kill mid-append) is dropped and reported by its byte offset. */
function parseRecords(file: string, text: string): { header: RecordsHeader; lines: Line[]; intactBytes: number } {
  const end = text.lastIndexOf('\n') + 1;
  const rows = text.slice(0, end).split('\n').filter(Boolean);
  if (rows.length === 0) throw new Error(`${file}: no header line`);
  const parse = (row: string, n: number) => {
    try {
      return JSON.parse(row);
    } catch {
      throw new Error(`${file}: line ${n} is not JSON`);
    }
  };
  const header = parse(rows[0], 1) as RecordsHeader;
  if (header.format !== RECORDS_FORMAT) throw new Error(`${file}: not ${RECORDS_FORMAT} records (format ${JSON.stringify(header.format)})`);
  const lines = rows.slice(1).map((r, i) => parse(r, i + 2) as Line);
  return { header, lines, intactBytes: Buffer.byteLength(text.slice(0, end)) };
}

function addLine(cm: ConfusionMatrix, line: Line, file: string): void {
  for (const [cell, count] of line.hist) {
    if (!(Number.isInteger(cell) && cell >= 0 && cell < cm.hist.length)) throw new Error(`${file}: ${line.id} has a cell ${cell} outside the ${cm.numClasses}-class matrix`);
    cm.hist[cell] += count;
  }
}

/** The records of one shard: what is done, their summed matrix, and the append of each new image. */
export class RecordLog {
  private constructor(
    readonly file: string,
    readonly header: RecordsHeader,
    readonly total: ConfusionMatrix,
    private readonly done: Set<string>,
  ) {}

  /**
   * Opens the shard's file: resumes it when it was made from the same list, checkpoint and settings, else starts
   * it anew (`note` says why).
   */
  static async open(dir: string, header: RecordsHeader, note: (line: string) => void): Promise<RecordLog> {
    const file = recordsFile(dir, { index: header.shard[0], count: header.shard[1] });
    const total = new ConfusionMatrix(header.classes.length);
    const done = new Set<string>();
    let text: string | null = null;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      // No records yet: a fresh start.
    }
    if (text !== null) {
      const old = parseRecords(file, text);
      const differs: string[] = (['mode', 'list', 'checkpoint', 'settings', 'images'] as const).filter((k) => old.header[k] !== header[k]);
      if (JSON.stringify(old.header.classes) !== JSON.stringify(header.classes)) differs.push('classes');
      if (differs.length === 0) {
        if (old.intactBytes < Buffer.byteLength(text)) await truncate(file, old.intactBytes);
        for (const line of old.lines) {
          addLine(total, line, file);
          done.add(line.id);
        }
        if (done.size > 0) note(`resuming: ${done.size} of ${header.images} images already scored in ${file}`);
        return new RecordLog(file, header, total, done);
      }
      note(`${file} was made with a different ${differs.join(', ')}: starting over`);
    }
    await writeFile(file, `${JSON.stringify(header)}\n`);
    return new RecordLog(file, header, total, done);
  }

  has(id: string): boolean {
    return this.done.has(id);
  }

  get count(): number {
    return this.done.size;
  }

  /** Appends one image's matrix (one write of one line, so a kill leaves at most a torn last line). */
  async add(id: string, cm: ConfusionMatrix): Promise<void> {
    const hist: [number, number][] = [];
    cm.hist.forEach((v, i) => v !== 0 && hist.push([i, v]));
    await appendFile(this.file, `${JSON.stringify({ id, hist } satisfies Line)}\n`);
    this.total.merge(cm);
    this.done.add(id);
  }
}

export interface Merged {
  cm: ConfusionMatrix;
  classes: string[];
  images: number;
  shards: number;
}

/**
 * Sums the records of every shard in `dir` into one matrix. All n shards of one evaluation must be there and
 * complete (same list, checkpoint, settings and classes), and no image may be counted twice.
 */
export async function mergeRecords(dir: string): Promise<Merged> {
  const names = (await readdir(dir)).filter((f) => /^records-\d+-of-\d+\.jsonl$/.test(f)).sort();
  if (names.length === 0) throw new Error(`${dir}: no records-*-of-*.jsonl files (run seco eval --shard i/n --out ${dir} first)`);
  const parsed = await Promise.all(names.map(async (n) => ({ file: join(dir, n), ...parseRecords(join(dir, n), await readFile(join(dir, n), 'utf8')) })));
  const first = parsed[0];
  const n = first.header.shard[1];
  const byIndex = new Map<number, (typeof parsed)[number]>();
  for (const p of parsed) {
    const h = p.header;
    if (h.shard[1] !== n) throw new Error(`${dir}: shards of different counts (${first.file} is one of ${n}, ${p.file} one of ${h.shard[1]}); keep one evaluation per folder`);
    for (const k of ['mode', 'list', 'checkpoint', 'settings'] as const) {
      if (h[k] !== first.header[k]) throw new Error(`${p.file}: made with a different ${k} than ${first.file}`);
    }
    if (JSON.stringify(h.classes) !== JSON.stringify(first.header.classes)) throw new Error(`${p.file}: other classes than ${first.file}`);
    if (p.lines.length !== h.images) throw new Error(`${p.file}: ${p.lines.length} of its ${h.images} images scored (rerun that shard; it resumes)`);
    byIndex.set(h.shard[0], p);
  }
  const missing = Array.from({ length: n }, (_, i) => i).filter((i) => !byIndex.has(i));
  if (missing.length > 0) throw new Error(`${dir}: shard${missing.length > 1 ? 's' : ''} ${missing.map((i) => `${i}/${n}`).join(', ')} missing`);
  const cm = new ConfusionMatrix(first.header.classes.length);
  const seen = new Map<string, string>();
  for (const p of parsed) {
    for (const line of p.lines) {
      const other = seen.get(line.id);
      if (other) throw new Error(`${line.id} is scored in both ${other} and ${p.file}`);
      seen.set(line.id, p.file);
      addLine(cm, line, p.file);
    }
  }
  return { cm, classes: first.header.classes, images: seen.size, shards: n };
}
