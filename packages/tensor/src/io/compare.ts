// Which names and shapes of a loaded record match what a model expects: the basis of load_state_dict checks.
import { formatShape, shapesEqual } from '../shape.ts';

export interface KeyReport {
  /** Expected but absent from the record. */
  missing: string[];
  /** In the record but not expected. */
  unexpected: string[];
  /** Present in both with different shapes. */
  mismatched: { name: string; expected: number[]; got: number[] }[];
  ok: boolean;
}

export function compareKeys(
  loaded: Record<string, { shape: readonly number[] }>,
  expected: Record<string, readonly number[]> | Iterable<readonly [string, readonly number[]]>,
): KeyReport {
  const want = new Map<string, readonly number[]>(Symbol.iterator in expected ? (expected as Iterable<readonly [string, readonly number[]]>) : Object.entries(expected));
  const missing: string[] = [];
  const mismatched: KeyReport['mismatched'] = [];
  for (const [name, shape] of want) {
    if (!Object.hasOwn(loaded, name)) missing.push(name);
    else if (!shapesEqual(loaded[name].shape, shape)) mismatched.push({ name, expected: [...shape], got: [...loaded[name].shape] });
  }
  const unexpected = Object.keys(loaded).filter((k) => !want.has(k));
  return { missing, unexpected, mismatched, ok: !missing.length && !unexpected.length && !mismatched.length };
}

/** A readable summary, e.g. for an error when strict loading fails. */
export function formatKeyReport(r: KeyReport, limit = 20): string {
  const list = (xs: string[]) => xs.slice(0, limit).join(', ') + (xs.length > limit ? `, ... (${xs.length - limit} more)` : '');
  const parts: string[] = [];
  if (r.missing.length) parts.push(`missing ${r.missing.length}: ${list(r.missing)}`);
  if (r.unexpected.length) parts.push(`unexpected ${r.unexpected.length}: ${list(r.unexpected)}`);
  if (r.mismatched.length) {
    parts.push(`shape mismatch ${r.mismatched.length}: ${list(r.mismatched.map((m) => `${m.name} ${formatShape(m.got)} vs expected ${formatShape(m.expected)}`))}`);
  }
  return parts.length ? parts.join('; ') : 'all keys and shapes match';
}
