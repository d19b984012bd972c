import { TensorError } from '../errors.ts';
import { keep } from '../memory.ts';
import { Tensor } from '../tensor.ts';
import { defineKernel, denseInput, launch } from './fused.ts';
import { Optimizer, type OptimizerOptions, type ParamGroup, type ParamGroupSpec, type ParamState } from './optimizer.ts';

export interface SGDHyper {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
}

export const SGD_DEFAULTS: SGDHyper = { lr: 1e-3, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false };

const FIELDS = [
  { name: 'pOff', kind: 'u32' },
  { name: 'gOff', kind: 'u32' },
  { name: 'negLr', kind: 'f32' },
  { name: 'wd', kind: 'f32' },
] as const;

// torch.optim.SGD, single-tensor path: d = g + wd·p; buf = first ? d : buf·mom + (1-damp)·d;
// d = nesterov ? d + mom·buf : buf; p += -lr·d.
const PLAIN = defineKernel(
  'sgd',
  [
    { name: 'p', access: 'read_write', offset: 'pOff' },
    { name: 'g', access: 'read', offset: 'gOff' },
  ],
  FIELDS,
  `let param = p[pOff + i];
  let d = g[gOff + i] + wd * param;
  p[pOff + i] = param + negLr * d;`,
);

const MOMENTUM = defineKernel(
  'sgd_momentum',
  [
    { name: 'p', access: 'read_write', offset: 'pOff' },
    { name: 'g', access: 'read', offset: 'gOff' },
    { name: 'buf', access: 'read_write', offset: 'bOff' },
  ],
  [
    ...FIELDS,
    { name: 'bOff', kind: 'u32' },
    { name: 'mom', kind: 'f32' },
    { name: 'omDamp', kind: 'f32' },
    { name: 'first', kind: 'u32' },
    { name: 'nesterov', kind: 'u32' },
  ],
  `let param = p[pOff + i];
  var d = g[gOff + i] + wd * param;
  var b = d;
  if (first == 0u) { b = buf[bOff + i] * mom + omDamp * d; }
  buf[bOff + i] = b;
  if (nesterov != 0u) { d = d + mom * b; } else { d = b; }
  p[pOff + i] = param + negLr * d;`,
);

/** SGD with momentum, dampening, Nesterov and (coupled) weight decay, as torch.optim.SGD. */
export class SGD extends Optimizer<SGDHyper> {
  constructor(params: readonly Tensor[] | readonly ParamGroupSpec<SGDHyper>[], defaults: Partial<SGDHyper> = {}, options: OptimizerOptions = {}) {
    super('SGD', params, { ...SGD_DEFAULTS, ...defaults }, options);
  }

  protected validateHyper(h: SGDHyper, group: number): void {
    const bad = (what: string) => new TensorError('SGD', `group ${group}: ${what}`);
    if (!(h.lr >= 0)) throw bad(`invalid lr ${h.lr}`);
    if (!(h.momentum >= 0)) throw bad(`invalid momentum ${h.momentum}`);
    if (!(h.weightDecay >= 0)) throw bad(`invalid weight decay ${h.weightDecay}`);
    if (h.nesterov && (h.momentum <= 0 || h.dampening !== 0)) throw bad('Nesterov momentum requires a momentum and zero dampening');
  }

  protected stateNames(group: ParamGroup<SGDHyper>): readonly string[] {
    return group.momentum !== 0 ? ['momentum_buffer'] : [];
  }

  protected initBuffer(_name: string, param: Tensor): Tensor {
    // Contents are irrelevant: the first step writes the buffer before reading it.
    return keep(Tensor.empty(param.shape, 'f32', 'momentum_buffer'));
  }

  protected update(p: Tensor, grad: Tensor, st: ParamState, group: ParamGroup<SGDHyper>): void {
    const g = denseInput(grad);
    const common = { pOff: p.offset, gOff: g.t.offset, negLr: -group.lr, wd: group.weightDecay };
    try {
      const buf = st.buffers.momentum_buffer;
      if (group.momentum === 0) {
        launch(PLAIN, [p.buffer, g.t.buffer], common, p.size);
      } else {
        if (!buf) throw new TensorError('SGD', 'momentum was switched on after the first step; the buffer is missing');
        launch(MOMENTUM, [p.buffer, g.t.buffer, buf.buffer], {
          ...common,
          bOff: buf.offset,
          mom: group.momentum,
          omDamp: 1 - group.dampening,
          first: st.step === 1 ? 1 : 0,
          nesterov: group.nesterov ? 1 : 0,
        }, p.size);
      }
    } finally {
      if (g.owned) g.t.dispose();
    }
  }
}
