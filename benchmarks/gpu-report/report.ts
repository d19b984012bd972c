// The report's data: one row per case (ours, PyTorch's time where it has the case, ratios, share of the FMA
// ceiling), the adapter, and the host it ran on.
import { cpus, platform, arch } from 'node:os';
import type { AdapterReport } from './adapter.ts';
import { caseLabel, type ReportCase } from './cases.ts';
import type { CaseOutcome } from './run-case.ts';
import type { TorchReport } from './torch.ts';

export interface ReportRow {
  id: string;
  name: string;
  shape: string;
  status: 'ok' | 'failed' | 'timeout' | 'skipped';
  budgetS: number;
  /** Seconds the case's process took, start-up included. */
  wallS: number | null;
  ms: number | null;
  firstMs: number | null;
  gflops: number | null;
  /** gflops as a share of the FMA probe's, in percent. */
  pctFma: number | null;
  torchMs: number | null;
  /** torchMs / ms: above 1 means ours is faster. */
  ratio: number | null;
  notes: string;
  error?: string;
  torchError?: string;
  detail?: unknown;
}

export type TorchSection = (TorchReport | { available: false; reason: string; error: true }) & { wallS: number | null };

export interface GpuReport {
  schema: 'seco-gpu-report/1';
  date: string;
  quick: boolean;
  host: { node: string; platform: string; cpu: string; cpus: number };
  adapter: AdapterReport | null;
  fmaGflops: number | null;
  rows: ReportRow[];
  torch: TorchSection;
  totalS: number;
}

export type Outcome = CaseOutcome | { status: 'skipped'; wallS: null; error: string };

export function reportRow(c: ReportCase, o: Outcome, fmaGflops: number | null): ReportRow {
  const label = caseLabel(c);
  const base = { id: c.id, name: label.name, shape: label.shape, budgetS: c.budgetS, wallS: o.wallS, torchMs: null, ratio: null };
  if (o.status !== 'ok') return { ...base, status: o.status, ms: null, firstMs: null, gflops: null, pctFma: null, notes: '', error: o.error };
  const r = o.result;
  const gflops = r.ms !== null && r.flop !== null ? r.flop / r.ms / 1e6 : null;
  return {
    ...base,
    shape: r.shape ?? label.shape,
    status: 'ok',
    ms: r.ms,
    firstMs: r.firstMs ?? null,
    gflops,
    pctFma: gflops !== null && fmaGflops ? (100 * gflops) / fmaGflops : null,
    notes: r.notes,
    detail: r.detail,
  };
}

/** Adds PyTorch's times (and ratios) to the rows it has. */
export function withTorch(rows: ReportRow[], torch: TorchSection): ReportRow[] {
  if (!torch.available) return rows;
  return rows.map((row) => {
    const t = torch.cases.find((c) => c.id === row.id);
    if (!t) return row;
    if ('error' in t) return { ...row, torchError: t.error };
    return { ...row, torchMs: t.ms, ratio: row.ms ? t.ms / row.ms : null };
  });
}

export function hostInfo(): GpuReport['host'] {
  const c = cpus();
  return { node: process.version, platform: `${platform()}-${arch()}`, cpu: c[0]?.model ?? 'unknown', cpus: c.length };
}
