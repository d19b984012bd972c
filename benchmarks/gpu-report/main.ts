// npm run gpu:report [-- --quick] [--out DIR] [--data DIR] [--python EXE | --no-torch] [--only ID,ID]
// Adapter, FMA ceiling, matmul, fused attention, ViT-B/16 and one SeCo iteration on this machine's GPU, each in a
// process of its own under a time budget, then the same cases in PyTorch where python3 has torch with CUDA.
// Writes gpu-<adapter>.json and .md to --out (benchmarks/results by default) and prints the markdown.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { hasEngine, shutdown } from '@seco/tensor';
import { sharedDataDir } from '../shared-data.ts';
import { type AdapterReport, adapterSlug } from './adapter.ts';
import { REPORT_DEADLINE_S, type ReportCase, reportCases, TORCH_BUDGET_S } from './cases.ts';
import { reportMarkdown } from './markdown.ts';
import { measureCase } from './measure.ts';
import { type GpuReport, hostInfo, type Outcome, reportRow, type TorchSection, withTorch } from './report.ts';
import { type ChildResult, runCaseProcess, selfCommand } from './run-case.ts';
import { runTorch, torchCases } from './torch.ts';

const USAGE = 'usage: gpu-report [--quick] [--out DIR] [--data DIR] [--python EXE | --no-torch] [--only ID,ID]';

function options() {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      out: { type: 'string' },
      data: { type: 'string' },
      python: { type: 'string' },
      'no-torch': { type: 'boolean', default: false },
      only: { type: 'string' },
      child: { type: 'string' },
      result: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  return values;
}

type Options = ReturnType<typeof options>;

const seconds = (t0: number) => (performance.now() - t0) / 1000;

/** Child mode: measure one case here and write the outcome for the parent. */
async function child(o: Options, cases: ReportCase[]): Promise<void> {
  const c = cases.find((x) => x.id === o.child);
  if (!o.result) throw new Error('--child needs --result FILE');
  let out: ChildResult;
  try {
    if (!c) throw new Error(`no case ${o.child} in the ${o.quick ? 'quick' : 'full'} report`);
    out = { ok: true, result: await measureCase(c, o.data ?? sharedDataDir()) };
  } catch (e) {
    out = { ok: false, error: (e as Error).message };
  }
  writeFileSync(o.result, JSON.stringify(out));
}

function chosen(o: Options, all: ReportCase[]): ReportCase[] {
  if (!o.only) return all;
  const ids = o.only.split(',').map((s) => s.trim());
  const unknown = ids.filter((id) => !all.some((c) => c.id === id));
  if (unknown.length) throw new Error(`--only: no case ${unknown.join(', ')}; cases: ${all.map((c) => c.id).join(', ')}`);
  return all.filter((c) => ids.includes(c.id));
}

async function report(o: Options, all: ReportCase[]): Promise<void> {
  const t0 = performance.now();
  const cases = chosen(o, all);
  const forward = [...(o.quick ? ['--quick'] : []), ...(o.data ? ['--data', resolve(o.data)] : [])];
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const torchWanted = !o['no-torch'];
  const rows = [];
  let adapter: AdapterReport | null = null;
  let fmaGflops: number | null = null;
  for (const c of cases) {
    // Cases never eat into the time the PyTorch run needs, and nothing starts past the deadline.
    const left = REPORT_DEADLINE_S - seconds(t0) - (torchWanted ? TORCH_BUDGET_S : 0);
    const budget = Math.min(c.budgetS, Math.floor(left));
    let outcome: Outcome;
    if (budget < 5) outcome = { status: 'skipped', wallS: null, error: `the report's ${REPORT_DEADLINE_S} s were spent` };
    else {
      log(`[report] ${c.id} (budget ${budget} s)`);
      outcome = await runCaseProcess(selfCommand(), c.id, forward, budget, log);
      if (outcome.status !== 'ok') log(`[report] ${c.id} ${outcome.status}: ${outcome.error}`);
    }
    if (outcome.status === 'ok' && c.kind === 'adapter') adapter = outcome.result.detail as AdapterReport;
    if (outcome.status === 'ok' && c.kind === 'fma' && outcome.result.ms && outcome.result.flop) fmaGflops = outcome.result.flop / outcome.result.ms / 1e6;
    rows.push(reportRow(c, outcome, fmaGflops));
  }

  let torch: TorchSection;
  const tc = torchCases(cases);
  if (!torchWanted) torch = { available: false, reason: '--no-torch', wallS: null };
  else if (!tc.length) torch = { available: false, reason: 'no case PyTorch runs was chosen', wallS: null };
  else {
    const python = o.python ?? process.env.SECO_PYTHON ?? 'python3';
    log(`[report] PyTorch cases through ${python} (budget ${TORCH_BUDGET_S} s)`);
    const tt = performance.now();
    try {
      torch = { ...(await runTorch(python, tc, TORCH_BUDGET_S)), wallS: seconds(tt) };
    } catch (e) {
      torch = { available: false, reason: `failed: ${(e as Error).message}`, error: true, wallS: seconds(tt) };
    }
    log(`[report] PyTorch: ${torch.available ? `${torch.torch} on ${torch.device}` : torch.reason}`);
  }

  const result: GpuReport = {
    schema: 'seco-gpu-report/1',
    date: new Date().toISOString(),
    quick: o.quick === true,
    host: hostInfo(),
    adapter,
    fmaGflops,
    rows: withTorch(rows, torch),
    torch,
    totalS: seconds(t0),
  };
  const outDir = resolve(o.out ?? fileURLToPath(new URL('../results/', import.meta.url)));
  mkdirSync(outDir, { recursive: true });
  const base = join(outDir, `gpu-${adapterSlug(adapter)}${o.quick ? '-quick' : ''}`);
  const md = reportMarkdown(result);
  writeFileSync(`${base}.json`, `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(`${base}.md`, `${md}\n`);
  process.stdout.write(`${md}\n`);
  const ok = result.rows.filter((r) => r.status === 'ok').length;
  log(`[report] ${ok} of ${result.rows.length} cases ok in ${result.totalS.toFixed(0)} s; wrote ${base}.json and ${base}.md`);
}

async function main(): Promise<void> {
  const o = options();
  if (o.help) return void process.stdout.write(`${USAGE}\n`);
  const cases = reportCases(o.quick === true);
  if (o.child !== undefined) await child(o, cases);
  else await report(o, cases);
}

main()
  .then(() => {
    // The GPU device keeps the event loop alive; release it so the process ends.
    if (hasEngine()) shutdown();
    process.exit(0);
  })
  .catch((e) => {
    console.error(`gpu-report: ${(e as Error).message}\n${USAGE}`);
    process.exit(2);
  });
