import { readdirSync, readFileSync, statSync } from 'node:fs';
import { DataError } from '../errors.ts';

export function requireDir(dir: string, what: string): void {
  let ok = false;
  try {
    ok = statSync(dir).isDirectory();
  } catch {
    ok = false;
  }
  if (!ok) throw new DataError(dir, `${what} folder not found`);
}

export function isDir(dir: string): boolean {
  try {
    return statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

/** Ids of a split list: one per line, first token, blank lines and a missing final newline tolerated. */
export function readList(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new DataError(file, 'list file not found or unreadable', { cause: e });
  }
  const ids = text.split(/\r?\n/).map((l) => l.trim().split(/\s+/)[0]).filter(Boolean);
  if (!ids.length) throw new DataError(file, 'list file is empty');
  return ids;
}

/** Map from file stem to file name for the given extensions (earlier extensions win). */
export function indexFolder(dir: string, exts: readonly string[]): Map<string, string> {
  const rank = new Map(exts.map((e, i) => [e, i]));
  const best = new Map<string, [string, number]>();
  for (const name of readdirSync(dir)) {
    const dot = name.lastIndexOf('.');
    if (dot <= 0) continue;
    const r = rank.get(name.slice(dot).toLowerCase());
    if (r === undefined) continue;
    const stem = name.slice(0, dot);
    const prev = best.get(stem);
    if (!prev || r < prev[1]) best.set(stem, [name, r]);
  }
  return new Map([...best].map(([k, [n]]) => [k, n]));
}
