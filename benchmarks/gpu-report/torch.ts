// PyTorch's side of the report: torch_cases.py in a python3 of the machine, fed the same cases as JSON.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { D, H } from '../suites/attention.ts';
import type { ReportCase } from './cases.ts';

export type TorchCase =
  | { id: string; kind: 'matmul'; batch: number; M: number; K: number; N: number; transposeB: boolean }
  | { id: string; kind: 'attention'; B: number; H: number; N: number; D: number; backward: boolean; dtype: 'f32' | 'f16' }
  | { id: string; kind: 'vit'; batch: number; size: number; backward: boolean; patch: number; embed_dim: number; depth: number; num_heads: number; mlp_ratio: number };

export type TorchReport =
  | { available: false; reason: string }
  | { available: true; torch: string; cuda: string | null; device: string; vit_impl: string | null; cases: ({ id: string; ms: number } | { id: string; error: string })[] };

/** The cases PyTorch can run too (not the adapter, the FMA probe or SeCo's iteration). */
export function torchCases(cases: readonly ReportCase[]): TorchCase[] {
  return cases.flatMap((c): TorchCase[] => {
    if (c.kind === 'matmul') {
      const s = c.shape;
      return [{ id: c.id, kind: 'matmul', batch: s.batch, M: s.M, K: s.K, N: s.N, transposeB: s.transposeB === true }];
    }
    if (c.kind === 'attention') return [{ id: c.id, kind: 'attention', B: c.B, N: c.N, H, D, backward: c.backward, dtype: c.dtype ?? 'f32' }];
    if (c.kind === 'vit') {
      const v = c.config;
      return [{ id: c.id, kind: 'vit', batch: c.batch, size: c.size, backward: c.backward, patch: v.patchSize, embed_dim: v.embedDim, depth: v.depth, num_heads: v.numHeads, mlp_ratio: v.mlpRatio }];
    }
    return [];
  });
}

const fail = (why: string): never => {
  throw new Error(`torch_cases.py broke its JSON contract: ${why}`);
};

/** Checks the script's output against its contract (see the docstring of torch_cases.py). */
export function parseTorchReport(stdout: string, ids: readonly string[]): TorchReport {
  const line = stdout.trim().split('\n').at(-1) ?? '';
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return fail(`its last line of output is not JSON: ${JSON.stringify(line.slice(0, 200))}`);
  }
  const o = v as Record<string, unknown>;
  if (typeof o !== 'object' || o === null || typeof o.available !== 'boolean') return fail('no boolean "available"');
  if (!o.available) return typeof o.reason === 'string' ? { available: false, reason: o.reason } : fail('"available": false without a "reason"');
  for (const k of ['torch', 'device'] as const) if (typeof o[k] !== 'string') fail(`"${k}" is not a string`);
  if (!Array.isArray(o.cases)) return fail('"cases" is not an array');
  const cases = o.cases.map((c: Record<string, unknown>) => {
    if (typeof c?.id !== 'string' || !ids.includes(c.id)) fail(`case id ${JSON.stringify(c?.id)} was not asked for`);
    if (typeof c.ms === 'number' && Number.isFinite(c.ms) && c.ms > 0) return { id: c.id as string, ms: c.ms };
    if (typeof c.error === 'string') return { id: c.id as string, error: c.error };
    return fail(`case ${c.id} has neither a positive "ms" nor an "error"`);
  });
  const missing = ids.filter((id) => !cases.some((c) => c.id === id));
  if (missing.length) fail(`no result for ${missing.join(', ')}`);
  return { available: true, torch: o.torch as string, cuda: (o.cuda as string | null) ?? null, device: o.device as string, vit_impl: (o.vit_impl as string | null) ?? null, cases };
}

/** Timed runs per PyTorch case, after one warm-up. */
export const TORCH_REPS = 5;

export const torchScript = (): string => fileURLToPath(new URL('./torch_cases.py', import.meta.url));

/** Runs the script under `python`; a missing interpreter reads as "not available", a hang or crash throws. */
export function runTorch(python: string, cases: readonly TorchCase[], timeoutS: number, reps = TORCH_REPS): Promise<TorchReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, [torchScript()], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutS * 1000);
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d).slice(-4000)));
    child.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (e.code === 'ENOENT') resolve({ available: false, reason: `${python} not found` });
      else reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL') return reject(new Error(`torch_cases.py ran over its budget of ${timeoutS} s and was killed`));
      if (code !== 0) return reject(new Error(`torch_cases.py exited with ${code ?? signal}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`));
      try {
        resolve(parseTorchReport(stdout, cases.map((c) => c.id)));
      } catch (e) {
        reject(e);
      }
    });
    child.stdin.on('error', () => {}); // a python that exits at once closes the pipe; 'close' reports it
    child.stdin.end(JSON.stringify({ cases, reps }));
  });
}
