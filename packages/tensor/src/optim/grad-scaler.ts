import { TensorError } from '../errors.ts';
import { keep } from '../memory.ts';
import { tensor } from '../ops/creation.ts';
import { cast, mul } from '../ops/elementwise.ts';
import type { Tensor } from '../tensor.ts';
import { defineKernel, launch } from './fused.ts';
import type { BaseHyper, Optimizer } from './optimizer.ts';
import { unscaleGrads } from './unscale.ts';

export interface GradScalerOptions {
  initScale?: number;
  growthFactor?: number;
  backoffFactor?: number;
  growthInterval?: number;
  /** Off, every method passes through (scale returns the loss, step is a plain optimizer step). */
  enabled?: boolean;
}

/** PyTorch's GradScaler.state_dict(), plus the skipped-step count this scaler keeps. */
export interface GradScalerState {
  scale: number;
  growth_factor: number;
  backoff_factor: number;
  growth_interval: number;
  _growth_tracker: number;
  skipped_steps: number;
}

export interface GradScalerStats {
  scale: number;
  growthTracker: number;
  skippedSteps: number;
}

// Slots of the scaler's state tensor (f32, so the scale is a tensor view the loss can be multiplied by).
const SCALE = 0;
const FOUND_INF = 1;

// torch._amp_update_scale_: back off on found-inf, else grow after `interval` clean steps if the grown scale is
// finite; then found-inf is cleared for the next step.
const UPDATE = defineKernel(
  'grad_scaler_update',
  [{ name: 's', access: 'read_write' }],
  [
    { name: 'growth', kind: 'f32' },
    { name: 'backoff', kind: 'f32' },
    { name: 'interval', kind: 'f32' },
  ],
  `if (s[1] != 0.0) {
    s[0] = s[0] * backoff;
    s[2] = 0.0;
    s[3] = s[3] + 1.0;
  } else {
    let tracked = s[2] + 1.0;
    if (tracked == interval) {
      let grown = s[0] * growth;
      if ((bitcast<u32>(grown) & 0x7f800000u) != 0x7f800000u) { s[0] = grown; }
      s[2] = 0.0;
    } else {
      s[2] = tracked;
    }
  }
  s[1] = 0.0;`,
);

/**
 * Dynamic loss scaling as torch.cuda.amp.GradScaler, with the scale, found-inf, growth tracker and skipped-step
 * count in one GPU tensor, so no step waits for a readback: scale(loss) multiplies by the GPU scale, step()
 * unscales the gradients and checks them (multi-tensor kernels), the optimizer skips its update on the GPU when
 * found-inf is set, and update() adjusts the scale there. stats() reads all of it at once, when the host wants.
 */
export class GradScaler {
  readonly enabled: boolean;
  readonly growthFactor: number;
  readonly backoffFactor: number;
  readonly growthInterval: number;
  /** [scale, found_inf, growth_tracker, skipped_steps]. */
  private state: Tensor;
  private scaleView: Tensor;
  private foundInfView: Tensor;
  private readonly unscaled = new Set<Optimizer<BaseHyper>>();
  private readonly stepped = new Set<Optimizer<BaseHyper>>();

  constructor(options: GradScalerOptions = {}) {
    this.enabled = options.enabled ?? true;
    this.growthFactor = options.growthFactor ?? 2;
    this.backoffFactor = options.backoffFactor ?? 0.5;
    this.growthInterval = options.growthInterval ?? 2000;
    const initScale = options.initScale ?? 2 ** 16;
    const bad = (what: string) => new TensorError('GradScaler', what);
    if (!(initScale > 0 && Number.isFinite(initScale))) throw bad(`initScale must be positive and finite, got ${initScale}`);
    if (!(this.growthFactor > 1)) throw bad(`growthFactor must be > 1, got ${this.growthFactor}`);
    if (!(this.backoffFactor > 0 && this.backoffFactor < 1)) throw bad(`backoffFactor must be in (0, 1), got ${this.backoffFactor}`);
    if (!(Number.isInteger(this.growthInterval) && this.growthInterval > 0 && this.growthInterval < 2 ** 24)) {
      throw bad(`growthInterval must be a positive integer below 2^24, got ${this.growthInterval}`);
    }
    this.state = keep(tensor([initScale, 0, 0, 0], [4]));
    this.scaleView = keep(this.state.view([], [], SCALE, 'grad_scaler_scale'));
    this.foundInfView = keep(this.state.view([1], [1], FOUND_INF, 'grad_scaler_found_inf'));
  }

  /** The loss times the current scale (an f16 loss is widened first: 2^16 times it would overflow f16). */
  scale(loss: Tensor): Tensor {
    if (!this.enabled) return loss;
    const wide = loss.dtype === 'f32' ? loss : cast(loss, 'f32');
    const out = mul(wide, this.scaleView);
    if (wide !== loss) wide.dispose();
    return out;
  }

  /** Divides the optimizer's gradients by the scale and records non-finite ones, on the GPU (once per step). */
  unscale(optimizer: Optimizer<BaseHyper>): void {
    if (!this.enabled) return;
    if (this.unscaled.has(optimizer)) throw new TensorError('GradScaler.unscale', 'already called for this optimizer since the last update()');
    if (this.stepped.has(optimizer)) throw new TensorError('GradScaler.unscale', 'called after step(); call update() first');
    unscaleGrads(optimizer.parameters, this.state);
    this.unscaled.add(optimizer);
  }

  /** Unscales (unless done) and steps the optimizer, which leaves everything as it was when found-inf is set. */
  step(optimizer: Optimizer<BaseHyper>): void {
    if (!this.enabled) {
      optimizer.step();
      return;
    }
    if (this.stepped.has(optimizer)) throw new TensorError('GradScaler.step', 'already called for this optimizer since the last update()');
    if (!this.unscaled.has(optimizer)) this.unscale(optimizer);
    optimizer.step({ skipIf: this.foundInfView });
    this.stepped.add(optimizer);
  }

  /** Backs off or grows the scale on the GPU and clears found-inf; `newScale` sets the scale instead. */
  update(newScale?: number): void {
    if (!this.enabled) return;
    this.unscaled.clear();
    this.stepped.clear();
    if (newScale !== undefined) {
      if (!(newScale > 0 && Number.isFinite(newScale))) throw new TensorError('GradScaler.update', `newScale must be positive and finite, got ${newScale}`);
      this.replaceState([newScale, 0, 0, null]);
      return;
    }
    launch(UPDATE, [this.state.buffer], { growth: this.growthFactor, backoff: this.backoffFactor, interval: this.growthInterval }, 1);
  }

  /**
   * The live state tensor [scale, found_inf, growth_tracker, skipped] (f32 on the GPU), for a checkpoint writer
   * that reads tensors while saving; never keep it (update(newScale) and loadStateDict replace it).
   */
  stateTensor(): Tensor {
    return this.state;
  }

  /** Scale, growth tracker and skipped steps: one 16-byte readback, for logs (never needed per step). */
  async stats(): Promise<GradScalerStats> {
    const [scale, , growthTracker, skippedSteps] = await this.state.data();
    return { scale, growthTracker, skippedSteps };
  }

  /** As PyTorch's state_dict() (one readback); `skipped_steps` is this scaler's own count. */
  async stateDict(): Promise<GradScalerState> {
    const { scale, growthTracker, skippedSteps } = await this.stats();
    return {
      scale,
      growth_factor: this.growthFactor,
      backoff_factor: this.backoffFactor,
      growth_interval: this.growthInterval,
      _growth_tracker: growthTracker,
      skipped_steps: skippedSteps,
    };
  }

  /** Restores scale, growth tracker and skipped count (the factors and interval are this scaler's options). */
  loadStateDict(sd: Partial<GradScalerState> & { scale: number }): void {
    if (!(sd.scale > 0 && Number.isFinite(sd.scale))) throw new TensorError('GradScaler.loadStateDict', `scale must be positive and finite, got ${sd.scale}`);
    this.replaceState([sd.scale, 0, sd._growth_tracker ?? 0, sd.skipped_steps ?? 0]);
  }

  /** New state values (null keeps that slot's GPU value: the skipped count must not need a readback). */
  private replaceState(values: [number, number, number, number | null]): void {
    const next = keep(tensor(values.map((v) => v ?? 0), [4]));
    if (values[3] === null) {
      // Keep the GPU skipped count: one element copied on the GPU.
      launch(COPY_SKIPPED, [this.state.buffer, next.buffer], {}, 1);
    }
    for (const t of [this.scaleView, this.foundInfView, this.state]) t.dispose();
    this.state = next;
    this.scaleView = keep(next.view([], [], SCALE, 'grad_scaler_scale'));
    this.foundInfView = keep(next.view([1], [1], FOUND_INF, 'grad_scaler_found_inf'));
  }

  dispose(): void {
    for (const t of [this.scaleView, this.foundInfView, this.state]) t.dispose();
  }
}

const COPY_SKIPPED = defineKernel(
  'grad_scaler_keep_skipped',
  [
    { name: 'src', access: 'read' },
    { name: 'dst', access: 'read_write' },
  ],
  [],
  'dst[3] = src[3];',
);
