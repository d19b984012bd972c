// The report as markdown: adapter, the case table (ours, PyTorch, ratio, GFLOP/s, share of the FMA ceiling) and
// SeCo's iteration in detail.
import type { SecoStepReport } from '../seco-step/measure.ts';
import type { GpuReport, ReportRow } from './report.ts';
import { TORCH_REPS } from './torch.ts';

const num = (v: number | null | undefined, digits = 2) => (v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(digits));
const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

const KEY_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
];

function adapterSection(r: GpuReport): string[] {
  const a = r.adapter;
  if (!a) return ['## Adapter', '', `No adapter report: ${cell(r.rows.find((x) => x.id === 'adapter')?.error ?? 'the case did not run')}`, ''];
  const info = a.info;
  const matrices = Array.isArray(info.subgroupMatrixConfigs) ? info.subgroupMatrixConfigs : null;
  return [
    '## Adapter',
    '',
    `- ${['vendor', 'architecture', 'device', 'description'].map((k) => `${k}: ${String(info[k] ?? '–') || '–'}`).join('; ')}`,
    `- subgroup sizes: ${info.subgroupMinSize ?? '–'} to ${info.subgroupMaxSize ?? '–'}; subgroup matrix configs: ${matrices === null ? 'not offered' : matrices.length ? JSON.stringify(matrices) : 'none'}`,
    `- features: ${a.features.join(', ')}`,
    `- the engine enabled: ${a.engineFeatures.join(', ') || 'none'}; kernels: ${a.kernelClass ?? '–'} class`,
    `- limits: ${KEY_LIMITS.map((k) => `${k} ${a.limits[k] ?? '–'}`).join(', ')} (every limit in the JSON)`,
    '',
  ];
}

function status(row: ReportRow): string {
  if (row.status === 'ok') return cell(row.notes + (row.torchError ? `; torch failed: ${row.torchError}` : ''));
  return `**${row.status}**: ${cell(row.error ?? '')}`;
}

function caseTable(r: GpuReport): string[] {
  const lines = [
    '## Cases',
    '',
    '| case | shape | ours ms | torch ms | ratio (torch / ours) | GFLOP/s | % of FMA ceiling | notes |',
    '|---|---|---:|---:|---:|---:|---:|---|',
  ];
  for (const row of r.rows.filter((x) => x.id !== 'adapter')) {
    lines.push(`| ${cell(row.name)} | ${cell(row.shape)} | ${num(row.ms)} | ${num(row.torchMs)} | ${num(row.ratio)} | ${num(row.gflops, 1)} | ${num(row.pctFma, 0)} | ${status(row)} |`);
  }
  return [...lines, ''];
}

function secoSection(r: GpuReport): string[] {
  const row = r.rows.find((x) => x.id.startsWith('seco-step') && x.status === 'ok');
  if (!row) return [];
  const s = row.detail as SecoStepReport;
  const both = (f: (x: SecoStepReport['cold']) => string) => `${f(s.cold)} | ${s.warm ? f(s.warm) : '—'}`;
  return [
    `## SeCo iteration (${s.preset} preset, batch ${s.batch}, crop ${s.crop})`,
    '',
    `| | first (cold) | timed (${s.iterations === 1 ? '1 iteration' : `median of ${s.iterations}`}) |`,
    '|---|---:|---:|',
    `| wall ms | ${both((x) => num(x.wallMs, 1))} |`,
    `| host encode ms | ${both((x) => num(x.encodeMs, 1))} |`,
    `| pipeline compile ms | ${both((x) => num(x.compileMs, 1))} |`,
    `| GPU queue idle ms | ${both((x) => num(x.queueIdleMs, 1))} |`,
    `| dispatches | ${both((x) => num(x.dispatches, 0))} |`,
    `| host µs per dispatch | ${both((x) => num(x.hostUsPerDispatch, 1))} |`,
    `| host thread CPU µs per dispatch | ${both((x) => (x.encodeCpuMs > 0 ? num(x.hostCpuUsPerDispatch, 1) : '–'))} |`,
    `| submits | ${both((x) => num(x.submits, 0))} |`,
    `| readbacks | ${both((x) => num(x.readbacks, 0))} |`,
    `| new pipelines | ${both((x) => num(x.newPipelines, 0))} |`,
    `| bind groups created | ${both((x) => num(x.bindGroupMisses, 0))} |`,
    '',
    `Pipelines in the cache: ${s.pipelines}; peak GPU memory ${num(s.peakLiveBytes / 2 ** 20, 1)} MiB; set-up ${num(s.setupMs, 0)} ms.`,
    '',
  ];
}

function torchLine(r: GpuReport): string {
  const t = r.torch;
  if (!t.available) return `PyTorch: not run (${t.reason}).`;
  return `PyTorch ${t.torch} (CUDA ${t.cuda ?? '–'}) on ${t.device}, eager f32, TF32 off; ViT: ${t.vit_impl ?? '–'}; CUDA events, one warm-up, median of ${TORCH_REPS}; its process took ${num(t.wallS, 0)} s.`;
}

export function reportMarkdown(r: GpuReport): string {
  const title = r.adapter?.description ?? 'unknown adapter';
  return [
    `# GPU report${r.quick ? ' (quick)' : ''}: ${title}`,
    '',
    `${r.date}; Node ${r.host.node} on ${r.host.platform}, ${r.host.cpus} x ${r.host.cpu}; ${num(r.totalS, 0)} s in all. ` +
      `Ours: median wall time per run, each ending with a GPU sync; FMA ceiling ${num(r.fmaGflops, 1)} GFLOP/s. ${torchLine(r)}`,
    '',
    ...adapterSection(r),
    ...caseTable(r),
    ...secoSection(r),
  ].join('\n');
}
