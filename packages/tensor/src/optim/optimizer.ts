import { TensorError } from '../errors.ts';
import { noGrad } from '../autograd/graph.ts';
import { formatShape, shapesEqual } from '../shape.ts';
import { Tensor } from '../tensor.ts';
import { keep } from '../memory.ts';
import { cast } from '../ops/elementwise.ts';
import { copyInto } from './assign.ts';
import { firstNonFinite } from './finite.ts';
import { checkGateFlag, countSkip, newGpuZero, type StepGate } from './step-gate.ts';
import type { LrSchedule } from './schedule.ts';

export interface BaseHyper {
  lr: number;
  weightDecay: number;
}

/** A parameter by handle, or by name when the optimizer is given `named` parameters. */
export type ParamRef = Tensor | string;

export type ParamGroupSpec<H extends BaseHyper> = Partial<H> & { params: readonly ParamRef[] };

export type ParamGroup<H extends BaseHyper> = H & {
  params: Tensor[];
  /** Names from `named`, or `group{g}.{i}` when none were given. */
  names: string[];
  /** The lr a schedule scales (PyTorch's `initial_lr`). */
  initialLr: number;
};

export type NamedParams = Iterable<readonly [string, Tensor]> | Readonly<Record<string, Tensor>>;

export interface OptimizerOptions {
  /** Names for parameters, so groups can list them by name and errors and reports name them. */
  named?: NamedParams;
  /** Sets every group's lr to initialLr × multiplier before each step (null keeps the lr). */
  schedule?: LrSchedule;
  /** Makes checkGrads() look for NaN/Inf gradients; off, it costs nothing. */
  checkFinite?: boolean;
}

export interface ParamUpdate<H extends BaseHyper> {
  param: Tensor;
  grad: Tensor;
  state: ParamState;
  group: ParamGroup<H>;
}

export interface StepOptions {
  /** A one-element f32 tensor on the GPU (a loss scaler's found-inf): non-zero skips the whole step there. */
  skipIf?: Tensor;
}

export interface ParamState {
  step: number;
  buffers: Record<string, Tensor>;
}

/** Everything needed to resume: state tensors keyed `state.{index}.{buffer}`, the rest JSON. */
export interface OptimizerStateDict {
  tensors: Record<string, Tensor>;
  meta: {
    type: string;
    globalStep: number;
    groups: (Record<string, unknown> & { params: number[]; names: string[]; initialLr: number })[];
    /**
     * Per-parameter step counts (PyTorch keeps one per parameter). Under a loss scaler these count the steps
     * asked for; the skipped ones are the tensor `skipped_steps` (on the GPU, so saving never waits).
     */
    steps: Record<string, number>;
    /** The skip count the host had read when saving (absent without a loss scaler). */
    knownSkips?: number;
  };
}

/**
 * Shared machinery: parameter groups, per-parameter GPU state, schedules, zeroGrad, state round trips and the
 * optional non-finite check. Subclasses supply one fused in-place update per parameter.
 */
export abstract class Optimizer<H extends BaseHyper> {
  readonly groups: ParamGroup<H>[] = [];
  /** Steps taken so far; the schedule reads it before each step (SeCo's global_step). */
  globalStep = 0;
  checkFinite: boolean;
  protected schedule: LrSchedule | undefined;
  protected readonly state = new Map<Tensor, ParamState>();
  /** The f32 master copy of every f16 parameter: updated in f32, rounded into the parameter by each step. */
  protected readonly masters = new Map<Tensor, Tensor>();
  /** Steps skipped on the GPU (one f32 element), made by the first gated step. */
  private skipCounter: Tensor | null = null;
  private knownSkips = 0;
  /** A zero flag for plain steps once steps have been skipped: they must leave the skipped ones out too. */
  private neverSkip: Tensor | null = null;
  private readonly hasNames: boolean;

  constructor(
    readonly type: string,
    params: readonly Tensor[] | readonly ParamGroupSpec<H>[],
    readonly defaults: H,
    options: OptimizerOptions = {},
  ) {
    this.schedule = options.schedule;
    this.checkFinite = options.checkFinite ?? false;
    const byName = namedMap(options.named);
    this.hasNames = byName.size > 0;
    const nameOf = new Map<Tensor, string>();
    for (const [n, t] of byName) if (!nameOf.has(t)) nameOf.set(t, n);
    const specs: ParamGroupSpec<H>[] =
      params.length > 0 && params[0] instanceof Tensor
        ? [{ params: params as readonly Tensor[] } as ParamGroupSpec<H>]
        : [...(params as readonly ParamGroupSpec<H>[])];
    if (specs.length === 0) throw new TensorError(type, 'got no parameters');
    const seen = new Map<Tensor, string>();
    specs.forEach((spec, g) => {
      if (!spec || !Array.isArray(spec.params)) throw new TensorError(type, `group ${g} has no params array`);
      const hyper = { ...defaults } as H;
      for (const k of Object.keys(defaults) as (keyof H)[]) if (spec[k] !== undefined) hyper[k] = spec[k] as H[keyof H];
      this.validateHyper(hyper, g);
      const group = { ...hyper, params: [] as Tensor[], names: [] as string[], initialLr: hyper.lr } as ParamGroup<H>;
      spec.params.forEach((ref, i) => {
        let t: Tensor;
        let name: string;
        if (typeof ref === 'string') {
          const found = byName.get(ref);
          if (!found) throw new TensorError(type, `group ${g} names unknown parameter '${ref}'${knownHint(byName)}`);
          t = found;
          name = ref;
        } else if (ref instanceof Tensor) {
          t = ref;
          name = nameOf.get(ref) ?? `group${g}.${i}`;
        } else throw new TensorError(type, `group ${g} entry ${i} is neither a Tensor nor a parameter name`);
        if (t.disposed) throw new TensorError(type, `parameter ${name} was disposed`);
        if (!t.isLeaf) throw new TensorError(type, `parameter ${name} is not a leaf tensor; optimizers update leaves`);
        const halfOk = t.dtype === 'f16' && this.acceptsHalfParams();
        if ((t.dtype !== 'f32' && !halfOk) || !t.isContiguous) {
          const hint = t.dtype === 'f16' ? `; ${type} keeps no f32 master weights (AdamW does)` : '';
          throw new TensorError(type, `parameter ${name} must be a contiguous f32 tensor (got ${t.dtype} ${formatShape(t.shape)})${hint}`);
        }
        const prev = seen.get(t);
        if (prev !== undefined) throw new TensorError(type, `parameter ${name} appears twice (${prev} and group ${g})`);
        seen.set(t, `group ${g}`);
        group.params.push(t);
        group.names.push(name);
      });
      this.groups.push(group);
    });
    // Masters now, not at the first step: the first step must start from the values the caller built.
    for (const p of this.parameters) if (p.dtype === 'f16') this.masters.set(p, keep(noGrad(() => cast(p, 'f32'))));
  }

  /** The live f32 master of an f16 parameter (what an EMA of the weights should follow), else undefined. */
  masterWeight(param: Tensor): Tensor | undefined {
    return this.masters.get(param);
  }

  /** Whether f16 parameters are trained through f32 masters (the subclass's kernels must read `masters`). */
  protected acceptsHalfParams(): boolean {
    return false;
  }

  /** Whether the update kernels honour a StepGate (a skip decided on the GPU). */
  protected acceptsGate(): boolean {
    return false;
  }

  protected abstract validateHyper(h: H, group: number): void;
  /** Names of the state tensors a parameter of this group keeps (their shape is the parameter's). */
  protected abstract stateNames(group: ParamGroup<H>): readonly string[];
  /** One fused in-place kernel: param, grad and state buffers; `state.step` already counts this step. */
  protected abstract update(param: Tensor, grad: Tensor, state: ParamState, group: ParamGroup<H>): void;

  /** Every update of a step, in parameter order; a subclass may batch them into multi-tensor kernels. */
  protected updateAll(updates: readonly ParamUpdate<H>[], _gate?: StepGate): void {
    for (const u of updates) this.update(u.param, u.grad, u.state, u.group);
  }

  /**
   * Applies the schedule, then updates every parameter that has a gradient. No readback, no autograd. With
   * `skipIf`, the GPU leaves parameters, state and the effective step count unchanged when its value is not 0.
   */
  step(options: StepOptions = {}): void {
    let gate: StepGate | undefined;
    if (options.skipIf) {
      if (!this.acceptsGate()) throw new TensorError(this.type, 'cannot skip a step on the GPU (skipIf); use AdamW with a loss scaler');
      checkGateFlag(this.type, options.skipIf);
      this.skipCounter ??= newGpuZero();
      gate = { flag: options.skipIf, skips: this.skipCounter, knownSkips: this.knownSkips };
    } else if (this.skipCounter) {
      this.neverSkip ??= newGpuZero();
      gate = { flag: this.neverSkip, skips: this.skipCounter, knownSkips: this.knownSkips };
    }
    if (this.schedule) {
      const m = this.schedule(this.globalStep);
      if (m !== null) for (const g of this.groups) g.lr = g.initialLr * m;
    }
    noGrad(() => {
      const updates: ParamUpdate<H>[] = [];
      for (const group of this.groups) {
        group.params.forEach((p, i) => {
          const g = p.grad;
          if (!g) return; // as PyTorch: no gradient, no step, no weight decay
          const dtypeOk = g.dtype === 'f32' || (g.dtype === 'f16' && this.acceptsHalfParams());
          if (!shapesEqual(g.shape, p.shape) || !dtypeOk) {
            throw new TensorError(this.type, `gradient of ${group.names[i]} is ${g.dtype} ${formatShape(g.shape)}, parameter is ${formatShape(p.shape)}`);
          }
          const st = this.stateOf(p, group);
          st.step += 1;
          updates.push({ param: p, grad: g, state: st, group });
        });
      }
      this.updateAll(updates, gate);
      if (gate && updates.length) countSkip(gate);
    });
    this.globalStep += 1;
  }

  /** Steps skipped on the GPU so far: one 4-byte readback, for logs (never needed per step). */
  async skippedSteps(): Promise<number> {
    if (!this.skipCounter) return 0;
    this.knownSkips = (await this.skipCounter.data())[0];
    return this.knownSkips;
  }

  private stateOf(p: Tensor, group: ParamGroup<H>): ParamState {
    let st = this.state.get(p);
    if (!st) {
      st = { step: 0, buffers: {} };
      for (const n of this.stateNames(group)) st.buffers[n] = this.initBuffer(n, p);
      this.state.set(p, st);
    }
    return st;
  }

  /** A fresh state tensor, owned by the optimizer (outside every scope). */
  protected abstract initBuffer(name: string, param: Tensor): Tensor;

  /** Disposes and clears every gradient (PyTorch's set_to_none). */
  zeroGrad(): void {
    for (const g of this.groups) {
      for (const p of g.params) {
        p.grad?.dispose();
        p.grad = null;
      }
    }
  }

  get parameters(): Tensor[] {
    return this.groups.flatMap((g) => g.params);
  }

  private entries(): { group: ParamGroup<H>; p: Tensor; name: string; index: number }[] {
    const out: { group: ParamGroup<H>; p: Tensor; name: string; index: number }[] = [];
    for (const group of this.groups) group.params.forEach((p, i) => out.push({ group, p, name: group.names[i], index: out.length }));
    return out;
  }

  /** Name of the first parameter whose gradient holds NaN or Inf, or null (one reduction, one readback). */
  async findNonFiniteGrad(): Promise<string | null> {
    const withGrad = this.entries().filter((e) => e.p.grad);
    const k = await firstNonFinite(withGrad.map((e) => e.p.grad!));
    return k < 0 ? null : withGrad[k].name;
  }

  /** With checkFinite on, throws naming the first non-finite gradient; off, returns at once. */
  async checkGrads(): Promise<void> {
    if (!this.checkFinite) return;
    const bad = await this.findNonFiniteGrad();
    if (bad !== null) throw new TensorError(this.type, `non-finite gradient in ${bad} at step ${this.globalStep}`);
  }

  /** State for a checkpoint. With copy (default) the tensors are the caller's copies; else live handles. */
  stateDict(options: { copy?: boolean } = {}): OptimizerStateDict {
    const copy = options.copy ?? true;
    const tensors: Record<string, Tensor> = {};
    const steps: Record<string, number> = {};
    for (const { p, index } of this.entries()) {
      const master = this.masters.get(p);
      if (master) tensors[`state.${index}.master`] = copy ? cloneOwned(master) : master;
      const st = this.state.get(p);
      if (!st) continue;
      steps[index] = st.step;
      for (const [n, t] of Object.entries(st.buffers)) tensors[`state.${index}.${n}`] = copy ? cloneOwned(t) : t;
    }
    let index = 0;
    const groups = this.groups.map((g) => {
      const { params, names, ...rest } = g;
      const ids = params.map(() => index++);
      return { ...structuredClone(rest), params: ids, names: this.hasNames ? [...names] : [] };
    });
    const meta: OptimizerStateDict['meta'] = { type: this.type, globalStep: this.globalStep, groups, steps };
    if (this.skipCounter) {
      tensors.skipped_steps = copy ? cloneOwned(this.skipCounter) : this.skipCounter;
      meta.knownSkips = this.knownSkips;
    }
    return { tensors, meta };
  }

  /** Restores state saved by stateDict(); the tensors are copied, so the caller keeps (and frees) its own. */
  loadStateDict(sd: OptimizerStateDict): void {
    const { meta } = sd;
    const fail = (msg: string): never => {
      throw new TensorError(`${this.type}.loadStateDict`, msg);
    };
    if (meta.type !== this.type) fail(`state is for ${meta.type}, not ${this.type}`);
    if (meta.groups.length !== this.groups.length) fail(`state has ${meta.groups.length} parameter groups, optimizer ${this.groups.length}`);
    const entries = this.entries();
    meta.groups.forEach((sg, g) => {
      const group = this.groups[g];
      if (sg.params.length !== group.params.length) fail(`group ${g} has ${sg.params.length} parameters in the state, ${group.params.length} here`);
      if (this.hasNames && sg.names.length) {
        const diff = sg.names.findIndex((n, i) => n !== group.names[i]);
        if (diff >= 0) fail(`group ${g} parameter ${diff} is '${sg.names[diff]}' in the state, '${group.names[diff]}' here`);
      }
    });
    const used = new Set<string>();
    const incoming = new Map<Tensor, ParamState>();
    const incomingMasters = new Map<Tensor, Tensor>();
    for (const { group, p, name, index } of entries) {
      if (p.dtype === 'f16') {
        const key = `state.${index}.master`;
        const t = sd.tensors[key];
        if (!t) fail(`missing ${key} (${name}): f16 parameters need their f32 master`);
        if (t.dtype !== 'f32' || !shapesEqual(t.shape, p.shape)) fail(`${key} (${name}) is ${t.dtype} ${formatShape(t.shape)}, want f32 ${formatShape(p.shape)}`);
        used.add(key);
        incomingMasters.set(p, t);
      }
      const step = meta.steps[index];
      if (step === undefined) continue;
      const buffers: Record<string, Tensor> = {};
      for (const n of this.stateNames(group)) {
        const key = `state.${index}.${n}`;
        const t = sd.tensors[key];
        if (!t) fail(`missing ${key} (${name})`);
        if (!shapesEqual(t.shape, p.shape)) fail(`${key} (${name}) is ${formatShape(t.shape)}, parameter is ${formatShape(p.shape)}`);
        used.add(key);
        buffers[n] = t;
      }
      incoming.set(p, { step, buffers });
    }
    const skipped = sd.tensors.skipped_steps;
    if (skipped) {
      if (skipped.dtype !== 'f32' || skipped.size !== 1) fail(`skipped_steps is ${skipped.dtype} of ${skipped.size} elements, want one f32`);
      used.add('skipped_steps');
    }
    const extra = Object.keys(sd.tensors).filter((k) => !used.has(k));
    if (extra.length) fail(`unexpected state tensors: ${extra.join(', ')}`);
    // Everything validated: only now replace the live state.
    this.disposeState();
    for (const [p, st] of incoming) {
      const own: Record<string, Tensor> = {};
      for (const [n, t] of Object.entries(st.buffers)) own[n] = cloneOwned(t);
      this.state.set(p, { step: st.step, buffers: own });
    }
    for (const [p, t] of incomingMasters) {
      this.masters.get(p)?.dispose();
      this.masters.set(p, cloneOwned(t));
    }
    this.skipCounter?.dispose();
    this.skipCounter = skipped ? cloneOwned(skipped) : null;
    this.knownSkips = skipped ? (meta.knownSkips ?? 0) : 0;
    meta.groups.forEach((sg, g) => {
      const group = this.groups[g] as unknown as Record<string, unknown>;
      for (const k of Object.keys(this.defaults)) if (sg[k] !== undefined) group[k] = structuredClone(sg[k]);
      group.initialLr = sg.initialLr;
    });
    this.globalStep = meta.globalStep;
  }

  private disposeState(): void {
    for (const st of this.state.values()) for (const t of Object.values(st.buffers)) t.dispose();
    this.state.clear();
  }

  /** Frees the optimizer state (not the parameters). */
  dispose(): void {
    this.disposeState();
    for (const m of this.masters.values()) m.dispose();
    this.masters.clear();
    this.skipCounter?.dispose();
    this.skipCounter = null;
    this.neverSkip?.dispose();
    this.neverSkip = null;
  }
}

function cloneOwned(t: Tensor): Tensor {
  const c = keep(Tensor.empty(t.shape, 'f32', 'optimizer_state'));
  copyInto(c, t);
  return c;
}

function namedMap(named: NamedParams | undefined): Map<string, Tensor> {
  const m = new Map<string, Tensor>();
  if (!named) return m;
  const it: Iterable<readonly [string, Tensor]> =
    Symbol.iterator in (named as object) ? (named as Iterable<readonly [string, Tensor]>) : Object.entries(named);
  for (const [n, t] of it) m.set(n, t);
  return m;
}

function knownHint(byName: Map<string, Tensor>): string {
  if (byName.size === 0) return ' (no named parameters were given)';
  const names = [...byName.keys()];
  return ` (known: ${names.slice(0, 8).join(', ')}${names.length > 8 ? `, … ${names.length - 8} more` : ''})`;
}
