// Warm start: the WGSL programs a run compiled and the matmul tiles tuned on this adapter, kept in a JSON file
// per adapter so the next start compiles every pipeline at once, before the first iteration, instead of one by
// one as ops first run.
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { engine, exportMatmulTuning, importMatmulTuning, type Program } from '@seco/tensor';

interface CacheFile {
  adapter: string;
  /** Each program with a hash of its code, so a corrupt entry is dropped rather than compiled. */
  programs: (Program & { hash: string })[];
  matmul: ReturnType<typeof exportMatmulTuning>;
}

export interface WarmStart {
  /** One line for the log: what was precompiled and how long it took. */
  summary: string;
  /** Adds the programs compiled since, and the current matmul tiles, to the file. */
  save(): Promise<void>;
}


const sha = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 16);

/** Loads the record for this adapter (if any), precompiles its programs in parallel and applies its tiles. */
export async function warmStart(dir: string): Promise<WarmStart> {
  const e = engine();
  // One record per adapter and kernel class (a forced class compiles and tunes other kernels).
  const adapter = `${e.adapterDescription} (${e.adapterClass} kernels)`;
  const file = join(dir, `webgpu-${sha(adapter)}.json`);
  let cached: CacheFile | null = null;
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as CacheFile;
    if (parsed.adapter === adapter && Array.isArray(parsed.programs)) cached = parsed;
  } catch {
    // No record yet (or unreadable): a cold start, recorded at save().
  }
  let summary = `warm start: no record for this adapter in ${dir}`;
  if (cached) {
    const programs = cached.programs.filter((p) => typeof p.code === 'string' && sha(p.code) === p.hash);
    const tiles = importMatmulTuning(cached.matmul ?? {});
    const r = await e.warmup(programs);
    summary = `warm start: ${r.compiled} pipelines compiled in ${(r.ms / 1000).toFixed(1)} s${r.failed ? ` (${r.failed} failed, skipped)` : ''}, ${tiles} matmul tile choices`;
  }
  return {
    summary,
    async save() {
      const byId = new Map<string, Program & { hash: string }>();
      for (const p of [...(cached?.programs ?? []), ...e.programs()]) byId.set(p.key ?? p.code, { key: p.key, label: p.label, code: p.code, hash: sha(p.code) });
      const out: CacheFile = { adapter, programs: [...byId.values()], matmul: { ...cached?.matmul, ...exportMatmulTuning() } };
      await mkdir(dir, { recursive: true });
      const tmp = `${file}.${process.pid}.tmp`;
      await writeFile(tmp, JSON.stringify(out));
      await rename(tmp, file);
      cached = out;
    },
  };
}
