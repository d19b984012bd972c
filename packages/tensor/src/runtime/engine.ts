import { getGPU, gpuWait, hostMemoryBytes, platformName, releaseGPU } from '#platform';
import { BindGroupCache, type BindGroupStats, type BufferBinding, bufferOf } from './bind-groups.ts';
import { LayoutCache, parseBindings, type SharedLayout } from './kernel-layout.ts';
import { BufferPool, type PoolStats } from './pool.ts';
import { defaultMemoryBudget, type MemoryBudget, reportedDeviceMemory, resolveMemoryBudget } from './memory-budget.ts';
import { GpuMemoryError } from './memory-error.ts';
import { CHECK_WGSL, NAN_CHECK_WG, NanCheck, type NonFiniteOp, type OwedCheck } from './nan-check.ts';

export interface EngineOptions {
  /** Dawn toggles for dawn.node, e.g. ['backend=vulkan']; ignored in browsers. */
  flags?: string[];
  powerPreference?: GPUPowerPreference;
  /** Dispatches encoded before a submit. */
  dispatchesPerSubmit?: number;
  /** Skip optional features even when the adapter has them (tests of fallbacks). */
  disableFeatures?: string[];
  /**
   * Bind at most this many bytes of a buffer at once (below the device's own limit): tests run the sliced paths
   * of every op with a tiny limit, as a browser or integrated GPU with a small binding limit would.
   */
  maxBindingBytes?: number;
  /**
   * Use this class's kernels whatever the adapter is (default: detected; env SECO_ADAPTER_CLASS also forces):
   * tests run the GPU-class kernels on lavapipe this way.
   */
  adapterClass?: AdapterClass;
  /**
   * Bytes of tensors the engine may hold (live and cached); an allocation past it throws a GpuMemoryError naming
   * the op, the bytes and the largest live tensors. Default: env SECO_MEMORY_BUDGET ("8GiB" or bytes), else what
   * the adapter reports (memory heaps, where exposed), else on a CPU adapter 75% of the host's RAM, else unlimited.
   */
  memoryBudgetBytes?: number;
}

/**
 * CPU rasterizers (lavapipe/llvmpipe, SwiftShader, WARP) run a workgroup as one thread over a few SIMD lanes:
 * barriers and workgroup memory cost more than they give, so they get kernels of their own. Everything else
 * is a GPU, and gets tiled kernels shaped for many cores.
 */
export type AdapterClass = 'cpu' | 'gpu';

const CPU_ADAPTER = /llvmpipe|lavapipe|swiftshader|microsoft basic render|\bwarp\b/i;

/** The class of an adapter from its info: the fallback flag where the browser sets it, else its names. */
export function detectAdapterClass(description: string, isFallback = false): AdapterClass {
  return isFallback || CPU_ADAPTER.test(description) ? 'cpu' : 'gpu';
}

function envAdapterClass(): AdapterClass | undefined {
  const v = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.SECO_ADAPTER_CLASS;
  if (v === undefined || v === '') return undefined;
  if (v !== 'cpu' && v !== 'gpu') throw new Error(`SECO_ADAPTER_CLASS must be 'cpu' or 'gpu', got '${v}'`);
  return v;
}

/** A window of a buffer: bound when the whole buffer is larger than the device binds at once. */
export interface BufferWindow {
  buffer: GPUBuffer;
  offset: number;
  size: number;
}

export interface Dispatch {
  /** The op, for error messages and profiles. */
  label: string;
  /**
   * A short name for the WGSL (e.g. `map|f32|r3|…`), unique per program: with it the pipeline is found without
   * building or hashing the code, which is then only read on a cache miss. Without it the code is the key.
   */
  key?: string;
  /** WGSL: storage buffers at bindings 0..n-1 in the order of `buffers`, the uniform (if any) at binding n. */
  code: string | (() => string);
  /** Whole buffers, or windows of them (kernels/binding.ts `bindView` picks). */
  buffers: readonly BufferBinding[];
  uniforms?: ArrayBufferView;
  /** Workgroup grid. A 1-D count above the per-dimension limit is folded into x·y; kernels recover the linear id. */
  workgroups: number | readonly [number, number, number];
}

/** A WGSL program the engine compiled: what a warm start records and precompiles. */
export interface Program {
  key?: string;
  label: string;
  code: string;
}

export interface WarmupReport {
  /** Programs compiled now (the others were already compiled). */
  compiled: number;
  /** Programs that failed to compile here (another adapter's features, say); they are skipped. */
  failed: number;
  /** Wall milliseconds from the first request to the last pipeline. */
  ms: number;
}

interface Compiled {
  pipeline: GPUComputePipeline;
  layout: SharedLayout;
  program: Program;
  /** False for a keyed program precompiled from a record: its code is compared once with the caller's. */
  verified: boolean;
}

export interface EngineStats extends PoolStats, BindGroupStats {
  dispatches: number;
  submits: number;
  pipelines: number;
  readbacks: number;
  /** Host milliseconds spent encoding: inside dispatch() and flush(), pipeline creation included. */
  encodeMs: number;
  /**
   * With hostCpuClock set: the encoding thread's CPU milliseconds over the same spans as encodeMs (the wall time
   * less what the thread spent preempted, which on a CPU adapter includes the "GPU" running on the same cores).
   */
  encodeCpuMs: number;
  /** Host milliseconds spent creating pipelines (a part of encodeMs). */
  compileMs: number;
  /** Host milliseconds spent in flush(): finishing the pass and submitting it (a part of encodeMs). */
  submitMs: number;
  /** Wall milliseconds spent in warmup() (outside encodeMs). */
  warmupMs: number;
  /**
   * With trackQueueIdle on: milliseconds the queue sat empty between the completion of submitted work and the
   * next submit (the GPU waiting on the host), as seen from the host.
   */
  queueIdleMs: number;
}

const OPTIONAL_FEATURES = ['shader-f16', 'timestamp-query', 'subgroups'] as const;
const UNIFORM_ALIGN = 256;
const UNIFORM_RING_BYTES = 1 << 16;
export const STORAGE_USAGE = 0x80 | 0x4 | 0x8; // STORAGE | COPY_SRC | COPY_DST

/** Owns the GPUDevice: pooled memory, cached pipelines and batched command encoding. */
export class Engine {
  readonly pool: BufferPool;
  readonly features: ReadonlySet<string>;
  readonly limits: GPUSupportedLimits;
  /** The device's own limit on the bytes one binding may span. */
  readonly deviceBindingBytes: number;
  private bindingLimit: number;
  /** The largest buffer the device creates: the largest tensor. */
  readonly maxBufferBytes: number;
  /** Byte alignment of a binding window's start. */
  readonly bindingAlignment: number;
  readonly maxWorkgroupsPerDim: number;
  private readonly pipelines = new Map<string, Compiled>();
  private readonly layouts: LayoutCache;
  private readonly bindGroups: BindGroupCache;
  /**
   * Debug: on every keyed dispatch, build the code and check that the key names exactly that program (on in
   * this package's tests through SECO_CHECK_KERNEL_KEYS=1).
   */
  checkKernelKeys = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.SECO_CHECK_KERNEL_KEYS === '1';
  private readonly stagingPool: BufferPool;
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private passPipeline: GPUComputePipeline | null = null;
  private pending = 0;
  private readonly uniformStaging = new Uint8Array(UNIFORM_RING_BYTES);
  private readonly uniformStaging32 = new Uint32Array(this.uniformStaging.buffer);
  /** setBindGroup's dynamic offset, one array reused rather than one made per dispatch. */
  private readonly dynamicOffset = [0];
  private uniformUsed = 0;
  private readonly uniformBuffer: GPUBuffer;
  private readonly dispatchesPerSubmit: number;
  private counters = { dispatches: 0, submits: 0, readbacks: 0, encodeMs: 0, encodeCpuMs: 0, compileMs: 0, submitMs: 0, warmupMs: 0, queueIdleMs: 0 };
  /** True inside dispatch(): a flush there is already inside dispatch's timed span. */
  private inDispatch = false;
  /**
   * A clock of this thread's CPU time in milliseconds (e.g. clock_gettime(CLOCK_THREAD_CPUTIME_ID), which
   * benchmarks supply): when set, encodeCpuMs accumulates it around every encode. Read twice per dispatch.
   */
  hostCpuClock: (() => number) | null = null;
  /** Measure queueIdleMs (one onSubmittedWorkDone callback per submit). */
  trackQueueIdle = false;
  private inFlight = 0;
  private idleSince: number | null = null;
  private gpuError: Error | null = null;
  private lastLabel = '';
  destroyed = false;
  /** Non-null while NaN/Inf provenance checking is on. */
  nanCheck: NanCheck | null = null;
  /** The adapter the device came from (its full feature list and limits, for reports); null if not known. */
  adapter: GPUAdapter | null = null;
  /** The class detected from the adapter's info. */
  readonly detectedClass: AdapterClass;
  private forcedClass: AdapterClass | null;
  private budget: MemoryBudget;
  /** The budget without option, environment or setMemoryBudget (see defaultMemoryBudget). */
  private readonly defaultBudget: MemoryBudget;

  constructor(
    readonly device: GPUDevice,
    readonly adapterDescription: string,
    options: EngineOptions = {},
    isFallbackAdapter = false,
    /** Device-local bytes the adapter reports (memory heaps), or null where it reports none. */
    readonly deviceMemoryBytes: number | null = null,
  ) {
    this.detectedClass = detectAdapterClass(adapterDescription, isFallbackAdapter);
    this.forcedClass = options.adapterClass ?? envAdapterClass() ?? null;
    this.features = new Set([...device.features].map(String));
    this.limits = device.limits;
    this.deviceBindingBytes = Math.floor(Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize) / 4) * 4;
    this.bindingLimit = this.deviceBindingBytes;
    this.maxBufferBytes = device.limits.maxBufferSize;
    this.bindingAlignment = device.limits.minStorageBufferOffsetAlignment;
    this.maxWorkgroupsPerDim = device.limits.maxComputeWorkgroupsPerDimension;
    this.layouts = new LayoutCache(device);
    this.bindGroups = new BindGroupCache(device);
    // Groups of destroyed buffers can never be hit (ids are not reused); dropping them frees their memory.
    this.pool = new BufferPool(device, STORAGE_USAGE, this.bindingLimit, this.maxBufferBytes, () => this.bindGroups.clear());
    if (options.maxBindingBytes !== undefined) this.setBindingLimit(options.maxBindingBytes);
    // The detected class, not a forced one: a CPU adapter's buffers are host memory whichever kernels run.
    this.defaultBudget = defaultMemoryBudget(deviceMemoryBytes, this.detectedClass === 'cpu', hostMemoryBytes());
    this.budget = resolveMemoryBudget(options.memoryBudgetBytes, this.defaultBudget);
    this.pool.setBudget(this.budget.bytes, this.budget.source);
    // A failed allocation is the root cause of the validation errors that using its invalid buffer raises, which
    // may be reported first: the memory error replaces any error stored that is not one.
    this.pool.onDeviceOutOfMemory = (e) => {
      if (!(this.gpuError instanceof GpuMemoryError)) this.gpuError = e;
    };
    this.pool.beforeTrim = () => this.flush();
    this.stagingPool = new BufferPool(device, 0x1 | 0x8); // MAP_READ | COPY_DST
    this.uniformBuffer = device.createBuffer({ size: UNIFORM_RING_BYTES, usage: 0x40 | 0x8 }); // UNIFORM | COPY_DST
    this.dispatchesPerSubmit = options.dispatchesPerSubmit ?? 32;
    device.addEventListener('uncapturederror', (ev) => {
      const error = (ev as GPUUncapturedErrorEvent).error;
      // Out of memory outside the pool's error scopes (a staging buffer, a command's own allocations): the same
      // error as the pool's, with what is live now.
      this.gpuError ??= isOutOfMemory(error)
        ? this.pool.memoryError('device', { op: this.lastLabel || 'buffer' }, 0, error.message)
        : new Error(`GPU error after op '${this.lastLabel}': ${error.message}`);
    });
  }

  /** The most bytes one binding may span: the device's limit, or a smaller one set for tests. */
  get maxBindingBytes(): number {
    return this.bindingLimit;
  }

  /**
   * Binds at most `bytes` at once (null: the device's limit again). Ops slice any tensor larger than this, as
   * on an adapter whose limit is that small; buffers made from now on fit it whole or are bound in windows.
   */
  setBindingLimit(bytes: number | null): void {
    const limit = bytes === null ? this.deviceBindingBytes : Math.min(this.deviceBindingBytes, bytes);
    if (!(limit >= 4 * this.bindingAlignment)) throw new Error(`setBindingLimit: ${bytes} bytes is below 4 alignment units`);
    this.bindingLimit = Math.floor(limit / 4) * 4;
    this.pool.setBindingLimit(this.bindingLimit);
    this.bindGroups.clear(); // its groups were checked against the old limit
  }

  /** Bytes of tensors the engine may hold, live and cached (Infinity: unlimited). */
  get memoryBudgetBytes(): number {
    return this.budget.bytes;
  }

  /** Who set the budget: an option, SECO_MEMORY_BUDGET, the device's memory heaps, host memory, setMemoryBudget, or 'unlimited'. */
  get memoryBudgetSource(): string {
    return this.budget.source;
  }

  /**
   * Caps the bytes of tensors the engine holds (as PyTorch's set_per_process_memory_fraction does), null for the
   * default (defaultMemoryBudget: the device's report, a CPU adapter's share of host RAM, else unlimited). Tensors
   * already live stay; the next allocation past it throws.
   */
  setMemoryBudget(bytes: number | null): void {
    const budget: MemoryBudget = bytes === null ? this.defaultBudget : { bytes, source: 'setMemoryBudget' };
    this.pool.setBudget(budget.bytes, budget.source);
    this.budget = budget;
  }

  /** Whose kernels run: 'cpu' (rasterizers) or 'gpu'; forced by setAdapterClass, else detected. */
  get adapterClass(): AdapterClass {
    return this.forcedClass ?? this.detectedClass;
  }

  get isCpu(): boolean {
    return this.adapterClass === 'cpu';
  }

  /** Forces one class's kernels (null: the detected class again). Kernels planned from now on follow it. */
  setAdapterClass(c: AdapterClass | null): void {
    this.forcedClass = c;
  }

  hasFeature(name: string): boolean {
    return this.features.has(name);
  }

  /** f16 storage (tensors of dtype 'f16') is available: the device has `shader-f16`. */
  get supportsF16(): boolean {
    return this.features.has('shader-f16');
  }

  /** The pipeline of a WGSL program (compiled on first use). */
  pipeline(code: string, label: string): GPUComputePipeline {
    return this.kernel({ label, code, buffers: [], workgroups: 0 }).pipeline;
  }

  private kernel(d: Dispatch): Compiled {
    const id = d.key ?? (typeof d.code === 'string' ? d.code : d.code());
    let k = this.pipelines.get(id);
    if (k && (!k.verified || (this.checkKernelKeys && d.key !== undefined))) {
      const code = typeof d.code === 'string' ? d.code : d.code();
      if (code !== k.program.code) {
        if (k.verified) throw new Error(`${d.label}: kernel key '${d.key}' names two different programs`);
        k = undefined; // a record from another version of the code: compile what the caller has now
      } else k.verified = true;
    }
    if (!k) {
      const t0 = performance.now();
      const program: Program = { key: d.key, label: d.label, code: typeof d.code === 'string' ? d.code : d.code() };
      const layout = this.layouts.get(parseBindings(program.code));
      const module = this.device.createShaderModule({ code: withF16Enable(program.code), label: d.label });
      const pipelineLayout = this.device.createPipelineLayout({ bindGroupLayouts: [layout.layout] });
      const pipeline = this.device.createComputePipeline({ layout: pipelineLayout, compute: { module, entryPoint: 'main' }, label: d.label });
      k = { pipeline, layout, program, verified: true };
      this.pipelines.set(id, k);
      this.counters.compileMs += performance.now() - t0;
    }
    return k;
  }

  /**
   * Compiles programs ahead of use, all requested at once through createComputePipelineAsync (so a driver that
   * compiles in parallel does), e.g. those a previous run recorded with programs(). Keyed programs are
   * checked against the caller's code at their first dispatch, so a stale record costs a recompile, never a
   * wrong kernel.
   */
  async warmup(programs: readonly Program[]): Promise<WarmupReport> {
    this.assertAlive();
    const t0 = performance.now();
    const todo = programs.filter((p) => !this.pipelines.has(p.key ?? p.code));
    let failed = 0;
    await gpuWait(Promise.all(
      todo.map(async (program) => {
        try {
          const layout = this.layouts.get(parseBindings(program.code));
          this.device.pushErrorScope('validation');
          const module = this.device.createShaderModule({ code: withF16Enable(program.code), label: program.label });
          const moduleError = this.device.popErrorScope();
          const pipelineLayout = this.device.createPipelineLayout({ bindGroupLayouts: [layout.layout] });
          const pipeline = await this.device.createComputePipelineAsync({
            layout: pipelineLayout,
            compute: { module, entryPoint: 'main' },
            label: program.label,
          });
          if (await moduleError) throw new Error('invalid module');
          this.pipelines.set(program.key ?? program.code, { pipeline, layout, program, verified: program.key === undefined });
        } catch {
          failed++;
        }
      }),
    ));
    const ms = performance.now() - t0;
    this.counters.warmupMs += ms;
    return { compiled: todo.length - failed, failed, ms };
  }

  /** Every program compiled so far (for a warm-start record). */
  programs(): Program[] {
    return [...this.pipelines.values()].filter((k) => k.verified).map((k) => k.program);
  }

  dispatch(d: Dispatch): void {
    const clock = this.hostCpuClock;
    // The CPU span lies inside the wall span, so encodeCpuMs <= encodeMs.
    const t0 = performance.now();
    const c0 = clock ? clock() : 0;
    this.inDispatch = true;
    try {
      this.encode(d);
    } finally {
      this.inDispatch = false;
      if (clock) this.counters.encodeCpuMs += clock() - c0;
      this.counters.encodeMs += performance.now() - t0;
    }
  }

  private encode(d: Dispatch): void {
    this.assertAlive();
    const k = this.kernel(d);
    const [x, y, z] = this.grid(d.workgroups, d.label);
    if (x === 0 || y === 0 || z === 0) return;
    const uBytes = d.uniforms ? d.uniforms.byteLength : 0;
    if (k.layout.uniform !== uBytes > 0) throw new Error(`${d.label}: the kernel ${k.layout.uniform ? 'declares' : 'lacks'} a uniform block, the dispatch passes ${uBytes} uniform bytes`);
    if (k.layout.storage !== d.buffers.length) throw new Error(`${d.label}: the kernel binds ${k.layout.storage} storage buffers, the dispatch passes ${d.buffers.length}`);
    const slot = Math.ceil(uBytes / UNIFORM_ALIGN) * UNIFORM_ALIGN;
    if (this.uniformUsed + slot > UNIFORM_RING_BYTES) this.flush();
    // A found group binds what was checked when it was made (the cache is cleared when the limit changes).
    const bindGroup =
      this.bindGroups.find(k.layout, d.buffers, uBytes) ??
      (this.checkBindings(d), this.bindGroups.create(k.layout, d.buffers, k.layout.uniform ? this.uniformBuffer : null, uBytes));
    if (!this.pass) {
      this.encoder = this.device.createCommandEncoder();
      this.pass = this.encoder.beginComputePass();
      this.passPipeline = null;
    }
    if (this.passPipeline !== k.pipeline) this.pass.setPipeline((this.passPipeline = k.pipeline));
    if (k.layout.uniform) {
      const u = d.uniforms!;
      // Kernels pack u32s: copied as such, with no view made per dispatch.
      if (u instanceof Uint32Array) this.uniformStaging32.set(u, this.uniformUsed >> 2);
      else this.uniformStaging.set(new Uint8Array(u.buffer, u.byteOffset, uBytes), this.uniformUsed);
      this.dynamicOffset[0] = this.uniformUsed;
      this.pass.setBindGroup(0, bindGroup, this.dynamicOffset);
      this.uniformUsed += slot;
    } else this.pass.setBindGroup(0, bindGroup);
    this.pass.dispatchWorkgroups(x, y, z);
    this.lastLabel = d.label;
    this.counters.dispatches++;
    if (this.nanCheck) this.runChecks(this.nanCheck.take(d.label, d.buffers.map(bufferOf)));
    if (++this.pending >= this.dispatchesPerSubmit) this.flush();
  }

  /** A binding past the limit is a kernel that forgot to slice: caught here, also under a limit set for tests. */
  private checkBindings(d: Dispatch): void {
    for (const b of d.buffers) {
      const bytes = 'buffer' in b ? (b.size ?? b.buffer.size - (b.offset ?? 0)) : b.size;
      if (bytes > this.bindingLimit) throw new Error(`${d.label}: binds ${bytes} bytes, more than the binding limit (${this.bindingLimit})`);
    }
  }

  /** NaN-check kernels over whole buffers, in windows where a buffer exceeds a binding. */
  private runChecks(checks: readonly OwedCheck[]): void {
    const nan = this.nanCheck!;
    // Window starts stay aligned: a whole number of alignment units per window.
    const perWindow = Math.floor(this.bindingLimit / Math.max(this.bindingAlignment, 4)) * (Math.max(this.bindingAlignment, 4) / 4);
    for (const c of checks) {
      for (let start = 0; start < c.numel; start += perWindow) {
        const n = Math.min(perWindow, c.numel - start);
        const whole = start === 0 && c.buffer.size <= this.bindingLimit;
        this.encode({
          label: `nan-check`,
          code: CHECK_WGSL,
          buffers: [whole ? c.buffer : { buffer: c.buffer, offset: start * 4, size: n * 4 }, nan.flag],
          uniforms: new Uint32Array([n, c.seq, 0, 0]),
          workgroups: Math.ceil(n / NAN_CHECK_WG),
        });
      }
    }
  }

  /** With the NaN check on: a fresh f32 buffer whose producer is the next op that binds it. */
  expectNanCheck(buffer: GPUBuffer, numel: number, shape: readonly number[]): void {
    if (this.nanCheck) this.runChecks(this.nanCheck.expect(buffer, numel, shape));
  }

  /** Debug mode: remember the first op whose f32 output holds NaN or Inf (see firstNonFiniteOp). */
  setNanCheck(on: boolean): void {
    this.nanCheck = on ? (this.nanCheck ?? new NanCheck(this.device)) : null;
  }

  /** With setNanCheck(true): the earliest op, since the last call, that produced a non-finite value. */
  async firstNonFiniteOp(): Promise<NonFiniteOp | null> {
    if (!this.nanCheck) throw new Error('firstNonFiniteOp: call setNanCheck(true) first');
    const check = this.nanCheck;
    this.runChecks(check.drain());
    const [v] = new Uint32Array(await this.read(check.flag, 0, 4));
    const found = check.decode(v);
    check.reset(this.device);
    return found;
  }

  private grid(w: Dispatch['workgroups'], label: string): [number, number, number] {
    const max = this.maxWorkgroupsPerDim;
    if (typeof w === 'number') {
      if (w <= max) return [w, 1, 1];
      const y = Math.ceil(w / max);
      if (y > max) throw new Error(`${label}: ${w} workgroups exceed the device's grid`);
      return [max, y, 1];
    }
    if (w[0] > max || w[1] > max || w[2] > max) throw new Error(`${label}: workgroup grid ${w.join('x')} exceeds ${max}`);
    return [w[0], w[1], w[2]];
  }

  /** Submits everything encoded so far. */
  flush(): void {
    if (!this.encoder) return;
    // Inside dispatch() the flush is part of that dispatch's span: counting it again would count submits twice.
    const clock = this.inDispatch ? null : this.hostCpuClock;
    const t0 = performance.now();
    const c0 = clock ? clock() : 0;
    this.pass!.end();
    if (this.uniformUsed > 0) this.device.queue.writeBuffer(this.uniformBuffer, 0, this.uniformStaging, 0, this.uniformUsed);
    this.submit(this.encoder.finish());
    this.encoder = null;
    this.pass = null;
    this.passPipeline = null;
    this.pending = 0;
    this.uniformUsed = 0;
    if (clock) this.counters.encodeCpuMs += clock() - c0;
    const ms = performance.now() - t0;
    if (!this.inDispatch) this.counters.encodeMs += ms;
    this.counters.submitMs += ms;
  }

  /** Every submit goes through here, so the queue's idle time can be measured. */
  private submit(commands: GPUCommandBuffer): void {
    const now = performance.now();
    if (this.trackQueueIdle && this.inFlight === 0 && this.idleSince !== null) this.counters.queueIdleMs += now - this.idleSince;
    this.device.queue.submit([commands]);
    this.counters.submits++;
    if (this.trackQueueIdle) {
      this.inFlight++;
      // Through gpuWait too: a pending dawn.node promise spins the event loop, and this one is nearly always pending.
      void gpuWait(this.device.queue.onSubmittedWorkDone()).then(() => {
        if (--this.inFlight === 0) this.idleSince = performance.now();
      });
    }
  }

  /** Writes host data into a buffer, after every command already encoded (which may still read its old contents). */
  upload(buffer: GPUBuffer, data: ArrayBufferView, byteOffset = 0): void {
    this.assertAlive();
    this.flush();
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    // writeBuffer needs a multiple of 4 bytes.
    const padded = bytes.byteLength % 4 === 0 ? bytes : padTo4(bytes);
    this.device.queue.writeBuffer(buffer, byteOffset, padded as Uint8Array<ArrayBuffer>);
  }

  /** Reads `bytes` bytes of a buffer back to the host. The only place the engine waits on the GPU. */
  async read(buffer: GPUBuffer, byteOffset: number, bytes: number): Promise<ArrayBuffer> {
    this.assertAlive();
    this.flush();
    const staging = this.stagingPool.acquire(bytes);
    const enc = this.device.createCommandEncoder();
    const len = Math.ceil(bytes / 4) * 4;
    enc.copyBufferToBuffer(buffer, byteOffset, staging, 0, len);
    this.submit(enc.finish());
    this.counters.readbacks++;
    await gpuWait(staging.mapAsync(1 /* READ */, 0, len));
    const out = staging.getMappedRange(0, len).slice(0, bytes);
    staging.unmap();
    this.stagingPool.release(staging);
    this.throwIfGpuError();
    return out;
  }

  /** Waits for all submitted work. */
  async sync(): Promise<void> {
    this.flush();
    await gpuWait(this.device.queue.onSubmittedWorkDone());
    this.throwIfGpuError();
  }

  throwIfGpuError(): void {
    if (this.gpuError) {
      const e = this.gpuError;
      this.gpuError = null;
      throw e;
    }
  }

  /** peakLiveBytes starts over from the bytes live now, to measure the peak of one piece of work. */
  resetPeakMemory(): void {
    this.pool.resetPeak();
  }

  stats(): EngineStats {
    return { ...this.pool.stats(), ...this.bindGroups.stats(), ...this.counters, pipelines: this.pipelines.size };
  }

  private assertAlive(): void {
    if (this.destroyed) throw new Error('the engine was destroyed; call init() again');
  }

  destroy(): void {
    if (this.destroyed) return;
    this.flush();
    this.pool.trim();
    this.stagingPool.trim();
    this.device.destroy();
    this.destroyed = true;
  }
}

/** Dawn's GPUOutOfMemoryError (by name too: globals may come from another realm). */
function isOutOfMemory(error: GPUError): boolean {
  const Oom = (globalThis as { GPUOutOfMemoryError?: abstract new (...a: never[]) => GPUError }).GPUOutOfMemoryError;
  return (Oom !== undefined && error instanceof Oom) || error.constructor?.name === 'GPUOutOfMemoryError';
}

/** WGSL needs `enable f16;` before any use of f16; kernel builders need not know. */
export function withF16Enable(code: string): string {
  const live = code.replace(/\/\/.*$/gm, ''); // a comment that mentions f16 must not need the feature
  if (!/\bf16\b/.test(live) || /^\s*enable\s+f16\s*;/m.test(live)) return code;
  return `enable f16;\n${code}`;
}

function padTo4(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4);
  out.set(bytes);
  return out;
}

let current: Engine | null = null;
let pending: Promise<Engine> | null = null;

/** Acquires the GPU once per process with the adapter's maximum limits and its optional features. */
export function init(options: EngineOptions = {}): Promise<Engine> {
  if (current && !current.destroyed) return Promise.resolve(current);
  pending ??= createEngine(options).finally(() => (pending = null));
  return pending;
}

async function createEngine(options: EngineOptions): Promise<Engine> {
  // A malformed budget (option or SECO_MEMORY_BUDGET) fails here, before a device exists to be left open.
  resolveMemoryBudget(options.memoryBudgetBytes);
  const gpu = getGPU(options.flags);
  const adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' });
  if (!adapter) throw new Error(noAdapterMessage());
  const skip = new Set(options.disableFeatures ?? []);
  const requiredFeatures = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f) && !skip.has(f)) as GPUFeatureName[];
  const requiredLimits: Record<string, number> = {};
  for (const key of [
    'maxStorageBufferBindingSize',
    'maxBufferSize',
    'maxStorageBuffersPerShaderStage',
    'maxComputeWorkgroupStorageSize',
    'maxComputeInvocationsPerWorkgroup',
    'maxComputeWorkgroupSizeX',
    'maxComputeWorkgroupSizeY',
    'maxComputeWorkgroupsPerDimension',
  ] as const) {
    requiredLimits[key] = adapter.limits[key];
  }
  const device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
  const info = adapter.info;
  const description = [info?.vendor, info?.architecture, info?.device, info?.description].filter(Boolean).join(' ') || 'unknown adapter';
  const fallback = (info as { isFallbackAdapter?: boolean } | undefined)?.isFallbackAdapter ?? (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter ?? false;
  current = new Engine(device, description, options, fallback, reportedDeviceMemory(info));
  current.adapter = adapter;
  return current;
}

function noAdapterMessage(): string {
  if (platformName === 'node') {
    return (
      'No WebGPU adapter: dawn.node found no Vulkan driver. On Debian/Ubuntu run `npm run setup:gpu` as root ' +
      '(it installs mesa-vulkan-drivers >= 24 and libvulkan1), or install your GPU vendor\'s Vulkan driver.'
    );
  }
  return 'No WebGPU adapter: navigator.gpu.requestAdapter() returned null.';
}

export function engine(): Engine {
  if (!current || current.destroyed) throw new Error('no GPU engine: call `await init()` from @seco/tensor first');
  return current;
}

export function hasEngine(): boolean {
  return current !== null && !current.destroyed;
}

/** Destroys the device and lets Node exit. */
export function shutdown(): void {
  current?.destroy();
  current = null;
  releaseGPU();
}
