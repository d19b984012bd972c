import { TensorError } from '../errors.ts';
import { keep } from '../memory.ts';
import { zeros } from '../ops/creation.ts';
import type { Tensor } from '../tensor.ts';
import { defineKernel, denseInput, launch } from './fused.ts';
import { defineMulti, launchMulti } from './multi.ts';
import { Optimizer, type OptimizerOptions, type ParamGroup, type ParamGroupSpec, type ParamState, type ParamUpdate } from './optimizer.ts';

export interface AdamWHyper {
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
}

export const ADAMW_DEFAULTS: AdamWHyper = { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01 };

// torch.optim.AdamW's single-tensor CPU path, operation for operation:
//   p *= 1 - lr·wd;  m.lerp_(g, 1-b1);  v = v·b2 + ((1-b2)·g)·g;  p += -step_size · (m / (sqrt(v)/bc2_sqrt + eps))
// The step-dependent scalars are float64 on the host, rounded to f32 as PyTorch rounds them.
const BUFFERS = [
  { name: 'p', access: 'read_write', offset: 'pOff' },
  { name: 'g', access: 'read', offset: 'gOff' },
  { name: 'm', access: 'read_write', offset: 'mOff' },
  { name: 'v', access: 'read_write', offset: 'vOff' },
] as const;
const FIELDS = [
  { name: 'pOff', kind: 'u32' },
  { name: 'gOff', kind: 'u32' },
  { name: 'mOff', kind: 'u32' },
  { name: 'vOff', kind: 'u32' },
  { name: 'decay', kind: 'f32' },
  { name: 'omb1', kind: 'f32' },
  { name: 'b2', kind: 'f32' },
  { name: 'omb2', kind: 'f32' },
  { name: 'bc2Sqrt', kind: 'f32' },
  { name: 'eps', kind: 'f32' },
  { name: 'negStepSize', kind: 'f32' },
] as const;
const BODY = `let grad = g[gOff + i];
  let param = p[pOff + i] * decay;
  let m0 = m[mOff + i];
  let m1 = m0 + omb1 * (grad - m0);
  let v1 = v[vOff + i] * b2 + (omb2 * grad) * grad;
  let denom = sqrt(v1) / bc2Sqrt + eps;
  m[mOff + i] = m1;
  v[vOff + i] = v1;
  p[pOff + i] = param + negStepSize * (m1 / denom);`;
const ADAMW = defineKernel('adamw', BUFFERS, FIELDS, BODY);
/** The same update for several parameters per dispatch (bit-identical: same body, same scalars). */
const ADAMW_MULTI = defineMulti('adamw', BUFFERS, FIELDS, BODY);

/** AdamW with decoupled weight decay, exactly torch.optim.AdamW (amsgrad off, maximize off). */
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

  protected update(p: Tensor, grad: Tensor, st: ParamState, group: ParamGroup<AdamWHyper>): void {
    const g = denseInput(grad);
    try {
      launch(ADAMW, [p.buffer, g.t.buffer, st.buffers.exp_avg.buffer, st.buffers.exp_avg_sq.buffer], adamwScalars(p, g.t, st, group), p.size);
    } finally {
      if (g.owned) g.t.dispose();
    }
  }

  protected override updateAll(updates: readonly ParamUpdate<AdamWHyper>[]): void {
    const dense = updates.map((u) => denseInput(u.grad));
    try {
      launchMulti(
        ADAMW_MULTI,
        updates.map(({ param: p, state: st, group }, k) => ({
          buffers: [p.buffer, dense[k].t.buffer, st.buffers.exp_avg.buffer, st.buffers.exp_avg_sq.buffer],
          values: adamwScalars(p, dense[k].t, st, group),
          n: p.size,
        })),
      );
    } finally {
      for (const g of dense) if (g.owned) g.t.dispose();
    }
  }
}

/** The step's scalars: float64 on the host, rounded to f32 in the uniforms as PyTorch rounds them. */
function adamwScalars(p: Tensor, g: Tensor, st: ParamState, group: ParamGroup<AdamWHyper>): Record<string, number> {
  const [b1, b2] = group.betas;
  const t = st.step;
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
  };
}
