// npm run gpu:report --quick end to end on this machine's adapter (lavapipe here), its per-case budgets and
// failures, and the PyTorch script's JSON contract.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import type { SecoStepReport } from '../seco-step/measure.ts';
import { reportCases } from '../gpu-report/cases.ts';
import type { GpuReport } from '../gpu-report/report.ts';
import { runCaseProcess } from '../gpu-report/run-case.ts';
import { parseTorchReport, runTorch, torchCases } from '../gpu-report/torch.ts';

const main = fileURLToPath(new URL('../gpu-report/main.ts', import.meta.url));
const command = [process.execPath, '--conditions=source', '--import', 'tsx', main];
const tmp = () => mkdtempSync(join(tmpdir(), 'seco-gpu-report-'));

/** The report as a process (asynchronously: a blocking spawn would stall vitest's worker for minutes). */
function runReport(args: string[], timeoutS: number): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command[0], [...command.slice(1), ...args], { encoding: 'utf8', timeout: timeoutS * 1000, maxBuffer: 64 << 20 }, (e, stdout, stderr) => {
      resolve({ status: e ? (typeof e.code === 'number' ? e.code : null) : 0, stdout, stderr });
    });
  });
}

describe('gpu:report --quick', () => {
  test('every case runs and the JSON and markdown are written', async () => {
    const out = tmp();
    const r = await runReport(['--quick', '--out', out], 480);
    expect(r.status, r.stderr.slice(-2000)).toBe(0);
    const files = readdirSync(out).sort();
    expect(files).toHaveLength(2);
    expect(files[0]).toMatch(/^gpu-[a-z0-9-]+-quick\.json$/);
    expect(files[1]).toBe(files[0].replace('.json', '.md'));
    const report = JSON.parse(readFileSync(join(out, files[0]), 'utf8')) as GpuReport;
    expect(report.schema).toBe('seco-gpu-report/1');
    expect(report.quick).toBe(true);
    expect(report.totalS).toBeLessThan(480);

    expect(report.adapter?.features.length).toBeGreaterThan(0);
    expect(report.adapter?.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
    expect(typeof report.adapter?.info.vendor).toBe('string');
    expect(report.fmaGflops).toBeGreaterThan(0);

    expect(report.rows.map((x) => x.id)).toEqual(reportCases(true).map((c) => c.id));
    for (const row of report.rows) {
      expect(row.status, `${row.id}: ${row.error}`).toBe('ok');
      if (row.id === 'adapter') continue;
      expect(row.ms! > 0 && Number.isFinite(row.ms), `${row.id} ms ${row.ms}`).toBe(true);
      expect(row.wallS).toBeLessThanOrEqual(row.budgetS);
    }
    for (const row of report.rows.filter((x) => x.id.startsWith('matmul') || x.id.startsWith('attention') || x.id.startsWith('vit'))) {
      expect(row.gflops! > 0 && row.pctFma! > 0, row.id).toBe(true);
    }
    const seco = report.rows.find((x) => x.id === 'seco-step-tiny')!;
    const detail = seco.detail as SecoStepReport;
    expect(detail.warm?.dispatches).toBeGreaterThan(100);
    expect(detail.peakLiveBytes).toBeGreaterThan(0);
    expect(seco.firstMs).toBe(detail.cold.wallMs);

    // Without torch (as here) the report says why; with it, each torch case has a time or an error.
    if (report.torch.available) {
      for (const row of report.rows.filter((x) => x.id.startsWith('matmul'))) expect(row.torchMs ?? row.torchError, row.id).toBeTruthy();
    } else expect(report.torch.reason).toMatch(/torch|python|CUDA/);

    const md = readFileSync(join(out, files[1]), 'utf8');
    expect(md).toContain('| case | shape | ours ms | torch ms | ratio (torch / ours) | GFLOP/s | % of FMA ceiling | notes |');
    expect(md).toContain('## SeCo iteration (voc preset, batch 1, crop 64)');
    expect(md).toContain('subgroup matrix configs');
    expect(r.stdout).toContain(md.trim());
  }, 600_000);

  test('a case over its budget is killed and reported; a failing case reports its error', async () => {
    const log = () => {};
    const slow = await runCaseProcess(command, 'seco-step-tiny', ['--quick'], 1, log);
    expect(slow.status).toBe('timeout');
    expect(slow.status !== 'ok' && slow.error).toMatch(/over its budget of 1 s, killed/);
    const bad = await runCaseProcess(command, 'seco-step-tiny', ['--quick', '--data', '/nonexistent-seco-data'], 120, log);
    expect(bad.status).toBe('failed');
    expect(bad.status !== 'ok' && bad.error).toContain('/nonexistent-seco-data');
    const unknown = await runCaseProcess(command, 'no-such-case', ['--quick'], 60, log);
    expect(unknown.status !== 'ok' && unknown.error).toMatch(/no case no-such-case in the quick report/);
  }, 300_000);

  test('bad options are named', async () => {
    const r = await runReport(['--only', 'fma,nope', '--quick'], 60);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--only: no case nope/);
  }, 60_000);
});

describe('torch_cases.py', () => {
  test('its output keeps the JSON contract on this machine (torch or not)', async () => {
    const cases = torchCases(reportCases(true));
    expect(cases.map((c) => c.kind).sort()).toEqual(['attention', 'attention', 'matmul', 'matmul', 'vit']);
    const t = await runTorch('python3', cases, 240);
    if (t.available) {
      expect(t.cases.map((c) => c.id).sort()).toEqual(cases.map((c) => c.id).sort());
      for (const c of t.cases) expect('ms' in c ? c.ms > 0 : c.error.length > 0).toBe(true);
      expect(t.device.length).toBeGreaterThan(0);
    } else expect(t.reason).toMatch(/no torch|no CUDA device/);
    expect(await runTorch('python3-does-not-exist', cases, 10)).toEqual({ available: false, reason: 'python3-does-not-exist not found' });
  }, 300_000);

  test('contract violations are refused with the reason', () => {
    const ids = ['a', 'b'];
    const ok = '{"available": true, "torch": "2.5", "cuda": "12.4", "device": "GPU", "vit_impl": "plain nn", "cases": [{"id": "a", "ms": 1.5}, {"id": "b", "error": "OOM"}]}';
    expect(parseTorchReport(`noise\n${ok}\n`, ids)).toMatchObject({ available: true, cases: [{ id: 'a', ms: 1.5 }, { id: 'b', error: 'OOM' }] });
    expect(parseTorchReport('{"available": false, "reason": "no torch"}', ids)).toEqual({ available: false, reason: 'no torch' });
    expect(() => parseTorchReport('Traceback (most recent call last):', ids)).toThrow(/last line of output is not JSON/);
    expect(() => parseTorchReport('{"available": false}', ids)).toThrow(/without a "reason"/);
    expect(() => parseTorchReport(ok.replace('"id": "b"', '"id": "c"'), ids)).toThrow(/case id "c" was not asked for/);
    expect(() => parseTorchReport(ok.replace('"ms": 1.5', '"ms": -1'), ids)).toThrow(/case a has neither a positive "ms" nor an "error"/);
    expect(() => parseTorchReport(ok.replace(', {"id": "b", "error": "OOM"}', ''), ids)).toThrow(/no result for b/);
  });
});
