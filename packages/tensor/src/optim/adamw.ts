import { TensorError } from '../errors.ts';
import { keep } from '../memory.ts';
import { zeros } from '../ops/creation.ts';
import type { Tensor } from '../tensor.ts';
import { adamwKernel } from './adamw-kernels.ts';
import { denseInput } from './fused.ts';
import { launchMulti, launchOne, type MultiItem, type MultiSpec } from './multi.ts';
import { Optimizer, type OptimizerOptions, type ParamGroup, type ParamGroupSpec, type ParamState, type ParamUpdate } from './optimizer.ts';
import type { StepGate } from './step-gate.ts';

export interface AdamWHyper {
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
}

export const ADAMW_DEFAULTS: AdamWHyper = { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01 };

/**
 * AdamW with decoupled weight decay, exactly torch.optim.AdamW (amsgrad off, maximize off); kernels in
 * adamw-kernels.ts. f16 parameters train through f32 masters (made at construction, saved in the state dict);
 * gradients may be f16 or f32. A step may be gated by a loss scaler's found-inf flag on the GPU.
 */
export class AdamW extends Optimizer<AdamWHyper> {
  constructor(params: readonly Tensor[] | readonly ParamGroupSpec<AdamWHyper>[], defaults: Partial<AdamWHyper> = {}, options: OptimizerOptions = {}) {
    super('AdamW', params, { ...ADAMW_DEFAULTS, ...defaults, betas: [...(defaults.betas ?? ADAMW_DEFAULTS.betas)] }, options);
  }

  protected validateHyper(h: AdamWHyper, group: number): void {
    const bad = (what: string) => new TensorError('AdamW', `group ${group}: invalid ${what}`);
    if (!(h.lr >= 0)) throw bad(`lr ${h.lr}`);
    if (!(h.eps >= 0)) throw bad(`eps ${h.eps}`);
    if (!(h.weightDecay >= 0)) throw bad(`weight decay ${h.weightDecay}`);
    if (!Array.isArray(h.betas) || h.betas.length !== 2 || !h.betas.every((b) => b >= 0 && b < 1)) throw bad(`betas ${h.betas}`);
  }

  protected stateNames(): readonly string[] {
    return ['exp_avg', 'exp_avg_sq'];
  }

  protected initBuffer(_name: string, param: Tensor): Tensor {
    return keep(zeros(param.shape));
  }

  protected override acceptsHalfParams(): boolean {
    return true;
  }

  protected override acceptsGate(): boolean {
    return true;
  }

  /** One dispatch of the one-tensor kernel (the multi-tensor path's reference). */
  protected update(param: Tensor, grad: Tensor, state: ParamState, group: ParamGroup<AdamWHyper>): void {
    this.launchUpdates([{ param, grad, state, group }], undefined, (spec, items, shared) => {
      for (const it of items) launchOne(spec, it, shared);
    });
  }

  protected override updateAll(updates: readonly ParamUpdate<AdamWHyper>[], gate?: StepGate): void {
    this.launchUpdates(updates, gate, launchMulti);
  }

  /** Groups the updates by kernel variant (parameter and gradient dtypes), in parameter order within each. */
  private launchUpdates(
    updates: readonly ParamUpdate<AdamWHyper>[],
    gate: StepGate | undefined,
    run: (spec: MultiSpec, items: MultiItem[], shared: GPUBuffer[]) => void,
  ): void {
    const dense = updates.map((u) => denseInput(u.grad));
    try {
      const byVariant = new Map<string, { half: boolean; halfGrad: boolean; items: MultiItem[] }>();
      updates.forEach(({ param: p, state: st, group }, k) => {
        const g = dense[k].t;
        const master = this.masters.get(p);
        const half = master !== undefined;
        const halfGrad = g.dtype === 'f16';
        const name = `${half}|${halfGrad}`;
        let entry = byVariant.get(name);
        if (!entry) byVariant.set(name, (entry = { half, halfGrad, items: [] }));
        const buffers = [p.buffer, g.buffer, st.buffers.exp_avg.buffer, st.buffers.exp_avg_sq.buffer];
        const values = adamwScalars(p, g, st, group, gate);
        if (master) {
          buffers.push(master.buffer);
          values.qOff = master.offset;
        }
        entry.items.push({ buffers, values, n: p.size });
      });
      const shared = gate ? [gate.flag.buffer, gate.skips.buffer] : [];
      for (const { half, halfGrad, items } of byVariant.values()) run(adamwKernel({ half, halfGrad, gated: gate !== undefined }), items, shared);
    } finally {
      for (const g of dense) if (g.owned) g.t.dispose();
    }
  }
}

/** The step's scalars: float64 on the host, rounded to f32 in the uniforms as PyTorch rounds them. */
function adamwScalars(p: Tensor, g: Tensor, st: ParamState, group: ParamGroup<AdamWHyper>, gate?: StepGate): Record<string, number> {
  const [b1, b2] = group.betas;
  // Under a gate the steps known to be skipped do not count (the kernel corrects for any it does not know of).
  const t = st.step - (gate ? Math.min(gate.knownSkips, st.step - 1) : 0);
  const bc1 = 1 - b1 ** t;
  const bc2 = 1 - b2 ** t;
  return {
    pOff: p.offset,
    gOff: g.offset,
    mOff: st.buffers.exp_avg.offset,
    vOff: st.buffers.exp_avg_sq.offset,
    decay: 1 - group.lr * group.weightDecay,
    omb1: 1 - b1,
    b2,
    omb2: 1 - b2,
    bc2Sqrt: Math.sqrt(bc2),
    eps: group.eps,
    negStepSize: -(group.lr / bc1),
    ...(gate ? { gateOff: gate.flag.offset, lr: group.lr, b1, step: st.step, knownSkips: Math.min(gate.knownSkips, st.step - 1) } : {}),
  };
}
