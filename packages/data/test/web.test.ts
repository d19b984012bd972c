import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const src = fileURLToPath(new URL('../src/', import.meta.url));

/** Relative imports reachable from a source file (the '#decode' browser target stands in for '#decode'). */
function closure(file: string, seen = new Set<string>()): Set<string> {
  if (seen.has(file)) return seen;
  seen.add(file);
  const text = readFileSync(file, 'utf8');
  for (const m of text.matchAll(/^(?:import|export)\s[^;]*?from\s+'([^']+)'/gms)) {
    const spec = m[1];
    if (spec === '#decode') closure(join(src, 'codecs', 'decode-browser.ts'), seen);
    else if (spec.startsWith('.')) closure(resolve(dirname(file), spec), seen);
    else seen.add(spec);
  }
  return seen;
}

describe('browser entry', () => {
  it('reaches no node:* module and no Node-only package', () => {
    const deps = [...closure(join(src, 'web.ts'))].filter((d) => !d.startsWith('/'));
    expect(deps.filter((d) => d.startsWith('node:') || d === 'sharp' || d === 'pngjs')).toEqual([]);
    expect(readdirSync(join(src, 'codecs'))).toContain('decode-browser.ts');
    // The scanner does see Node imports: the main entry reaches them.
    expect([...closure(join(src, 'index.ts'))]).toEqual(expect.arrayContaining(['node:fs', 'node:worker_threads', 'pngjs']));
  });
});
