// What the adapter offers: its info (vendor, device, subgroup sizes, subgroup matrix configs where Dawn offers
// them), every feature, every limit, and which optional features the engine turned on.
import { engine, init } from '@seco/tensor';

export interface AdapterReport {
  description: string;
  /** Whose kernels ran: 'gpu' (tiled, workgroup memory) or 'cpu' (rasterizer kernels), detected or forced. */
  kernelClass: string;
  info: Record<string, unknown>;
  features: string[];
  /** The subset the engine requested for its device. */
  engineFeatures: string[];
  limits: Record<string, number>;
}

/** Own enumerable and prototype getters of a WebIDL object (dawn.node exposes them as getters), as plain data. */
function plain(o: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k in o) {
    const v = (o as Record<string, unknown>)[k];
    if (typeof v === 'function') continue;
    out[k] = Array.isArray(v) ? v.map((x) => (typeof x === 'object' && x !== null ? plain(x) : x)) : v;
  }
  return out;
}

export async function adapterReport(): Promise<AdapterReport> {
  await init();
  const e = engine();
  const adapter = e.adapter;
  const info = adapter?.info ?? (e.device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
  return {
    description: e.adapterDescription,
    kernelClass: e.adapterClass,
    info: info ? plain(info) : {},
    features: [...(adapter?.features ?? e.features)].map(String).sort(),
    engineFeatures: [...e.features].sort(),
    limits: plain(adapter?.limits ?? e.limits) as Record<string, number>,
  };
}

/** A file-name part from the adapter: vendor and device, words not repeated (nvidia-h200, mesa-llvmpipe-...). */
export function adapterSlug(a: Pick<AdapterReport, 'info' | 'description'> | null): string {
  const text = a ? [a.info.vendor, a.info.device].filter((v) => typeof v === 'string' && v).join(' ') || a.description : 'unknown';
  const words = text.toLowerCase().split(/[^a-z0-9]+/).filter(Boolean);
  const slug = words.filter((w, i) => words.indexOf(w) === i).join('-').slice(0, 60).replace(/-$/, '');
  return slug || 'unknown';
}
