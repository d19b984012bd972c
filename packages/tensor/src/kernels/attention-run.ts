import { type BufferWindow, engine } from '../runtime/engine.ts';
import type { Tensor } from '../tensor.ts';
import type { AttentionConfig, AttentionDType } from './attention.ts';
import { bindView } from './binding.ts';
import { type AttentionKernel, dkvKernel, dqKernel, forwardKernel, type Vec4Flags } from './attention-code.ts';
import { memoKernel } from './memo.ts';
import { ceilDiv, f32Bits } from './uniforms.ts';

/**
 * Block sizes per adapter class. CPU adapters (llvmpipe: 8 lanes per AVX2 register, a workgroup runs as one
 * thread) want one subgroup per workgroup and no barriers; GPUs want many invocations per workgroup and the
 * stream in workgroup memory. Measured on lavapipe (12 heads, d 64, N 785): see benchmarks/README.md.
 */
export const CPU_SUBGROUP_CONFIG: AttentionConfig = { mode: 'subgroup', wg: 8, bc: 8 };
export const CPU_SHARED_CONFIG: AttentionConfig = { mode: 'shared', wg: 8, bc: 8 };
export const GPU_CONFIG: AttentionConfig = { mode: 'shared', wg: 64, bc: 16 };

let override: AttentionConfig | null = null;

/** Forces a configuration (tests of both modes, benchmarks of block sizes); null restores the default. */
export function setAttentionConfig(cfg: AttentionConfig | null): void {
  override = cfg;
}

function subgroupsUsable(): boolean {
  const e = engine();
  const info = (e.device as GPUDevice & { adapterInfo?: { subgroupMinSize?: number } }).adapterInfo;
  return e.hasFeature('subgroups') && (info?.subgroupMinSize ?? 0) >= 8;
}

export function attentionConfig(): AttentionConfig {
  const cpu = engine().isCpu;
  const cfg = override ?? (cpu ? (subgroupsUsable() ? CPU_SUBGROUP_CONFIG : CPU_SHARED_CONFIG) : GPU_CONFIG);
  if (cfg.mode === 'subgroup' && !subgroupsUsable()) return { ...cfg, mode: 'shared' };
  return cfg;
}

/** vec4 binding needs unit stride along d, d % 4 == 0 and every row start 4-aligned. */
export function vec4Readable(t: Tensor): boolean {
  const d = t.shape[3];
  return t.strides[3] === 1 && d % 4 === 0 && [t.offset, t.strides[0], t.strides[1], t.strides[2]].every((x) => x % 4 === 0);
}

export interface AttentionLaunch {
  B: number;
  H: number;
  N: number;
  d: number;
  scale: number;
  cfg: AttentionConfig;
}

/**
 * Encodes one kernel over every (batch, head); grids past the per-dimension limit are split along z. Bindings:
 * the strided operands, then `plain` (contiguous inputs and outputs, indexed from their start).
 */
function launch(label: string, build: typeof forwardKernel, p: AttentionLaunch, strided: Record<string, Tensor>, plain: Tensor[]): void {
  const e = engine();
  const f = flags(strided);
  const dtype = storageType(label, Object.values(strided));
  const key = `${label}|${dtype}|${p.d}|${p.cfg.mode},${p.cfg.wg},${p.cfg.bc}|${Object.values(f).map(Number).join('')}`;
  const kernel: AttentionKernel = memoKernel(key, () => build(p.d, dtype, p.cfg, f));
  const bh = p.B * p.H;
  const gx = ceilDiv(p.N, p.cfg.wg);
  if (bh === 0 || p.N === 0) return;
  if (gx > e.maxWorkgroupsPerDim) throw new Error(`${label}: ${p.N} rows exceed the device's grid`);
  const values: Record<string, number> = { N: p.N, H: p.H, scale: f32Bits(p.scale) };
  const buffers: (GPUBuffer | BufferWindow)[] = [];
  // Strided views of a big buffer (q, k, v of one qkv tensor) bind the window they span; window starts keep
  // 4-alignment (the offset alignment is at least 16 bytes), so vec4 reads stay valid.
  for (const [name, t] of Object.entries(strided)) {
    const bound = bindView(t, label);
    if (bound.offset % 4 !== 0 && vec4Readable(t)) throw new Error(`${label}: a window broke ${name}'s vec4 alignment`);
    buffers.push(bound.resource);
    values[`off_${name}`] = bound.offset;
    [values[`sb_${name}`], values[`sh_${name}`], values[`sn_${name}`], values[`sd_${name}`]] = t.strides;
  }
  for (const t of plain) {
    const bound = bindView(t, label);
    if (bound.offset !== 0) throw new Error(`${label}: a contiguous operand of shape [${t.shape.join(', ')}] must start its binding`);
    buffers.push(bound.resource);
  }
  for (let z0 = 0; z0 < bh; z0 += e.maxWorkgroupsPerDim) {
    const uniforms = kernel.layout.pack({ ...values, zBase: z0 });
    e.dispatch({ label, key, code: kernel.code, buffers, uniforms, workgroups: [gx, 1, Math.min(e.maxWorkgroupsPerDim, bh - z0)] });
  }
}

/** One storage type for all strided operands (the caller casts dO to the inputs' dtype). */
function storageType(label: string, ts: Tensor[]): AttentionDType {
  const dtype = ts[0]!.dtype;
  if ((dtype !== 'f32' && dtype !== 'f16') || ts.some((t) => t.dtype !== dtype)) {
    throw new Error(`${label}: operands must share f32 or f16, got ${ts.map((t) => t.dtype).join(', ')}`);
  }
  return dtype;
}

const flags = (ts: Partial<Record<keyof Vec4Flags, Tensor>>): Vec4Flags => ({
  q: ts.q ? vec4Readable(ts.q) : false,
  k: ts.k ? vec4Readable(ts.k) : false,
  v: ts.v ? vec4Readable(ts.v) : false,
  o: ts.o ? vec4Readable(ts.o) : false,
  g: ts.g ? vec4Readable(ts.g) : false,
});

export function launchForward(p: AttentionLaunch, q: Tensor, k: Tensor, v: Tensor, out: Tensor, lse: Tensor): void {
  launch('attention', forwardKernel, p, { q, k, v }, [out, lse]);
}

/** dq (and D = rowsum(dO ∘ O) into `dd`), then dk and dv: two passes, each output row summed by one invocation. */
export function launchBackward(
  p: AttentionLaunch,
  t: { q: Tensor; k: Tensor; v: Tensor; o: Tensor; g: Tensor; lse: Tensor },
  out: { dq: Tensor; dk: Tensor; dv: Tensor; dd: Tensor },
): void {
  const { q, k, v, o, g, lse } = t;
  launch('attention_backward_dq', dqKernel, p, { q, k, v, o, g }, [lse, out.dq, out.dd]);
  launch('attention_backward_dkv', dkvKernel, p, { q, k, v, g }, [lse, out.dd, out.dk, out.dv]);
}
