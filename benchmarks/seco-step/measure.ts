// One SeCo training iteration through the CLI's own trainer (`seco train`'s code path): a cold first iteration,
// then timed ones, each ended by a GPU sync, with the engine's counters read around each.
import { createSecoTrainer, schedulePoint } from '@seco/cli/training';
import { type EngineStats, engine, init } from '@seco/tensor';
import { hostPinning } from '../pin-host.ts';
import { threadCpuClock } from '../thread-clock.ts';
import { type SecoStepOptions, stepConfig } from './config.ts';

export interface IterationStats {
  /** Wall milliseconds from the step call to the end of its GPU work (loader wait included). */
  wallMs: number;
  /** Host milliseconds encoding dispatches and submits (pipeline creation included). */
  encodeMs: number;
  /** Host milliseconds creating pipelines (part of encodeMs). */
  compileMs: number;
  /** Milliseconds the GPU queue sat empty waiting for the host. */
  queueIdleMs: number;
  dispatches: number;
  submits: number;
  readbacks: number;
  /** Pipelines created during the iteration. */
  newPipelines: number;
  /**
   * Bind groups created during the iteration: near 0 once the pool hands out the same buffers as the iteration
   * before (it takes about two iterations to settle), so the iteration whose host cost is the steady state's.
   */
  bindGroupMisses: number;
  /** encodeMs per dispatch, in microseconds. */
  hostUsPerDispatch: number;
  /** The encoding thread's CPU time over the same spans (encodeCpuMs), and per dispatch in µs; 0 without a thread CPU clock. */
  encodeCpuMs: number;
  hostCpuUsPerDispatch: number;
}

export interface SecoStepReport {
  preset: string;
  /** Whether the timed iterations ran with the encoding thread on a core of its own (SECO_PIN_HOST=1). */
  hostPinned: boolean;
  crop: number;
  batch: number;
  /** Timed iterations behind `warm`. */
  iterations: number;
  adapter: string;
  /** Network and optimizer construction on the device. */
  setupMs: number;
  /** Iteration 0: compiles every pipeline and starts the loader. */
  cold: IterationStats;
  /** Mean of the timed iterations (iterations 1..n); `wallMs` is their median. Null with no timed iteration. */
  warm: IterationStats | null;
  warmWallMs: number[];
  /** Each timed iteration's figures, in order: the last is the steadiest (see bindGroupMisses). */
  timed: IterationStats[];
  /** Pipelines in the engine's cache after the run. */
  pipelines: number;
  /** Peak bytes of live GPU buffers over the run (weights, optimizer state, activations). */
  peakLiveBytes: number;
  /** The cold iteration's unweighted loss terms (read back to show the iteration computed numbers). */
  losses: Record<string, number>;
}

const KEYS = ['encodeMs', 'encodeCpuMs', 'compileMs', 'queueIdleMs', 'dispatches', 'submits', 'readbacks', 'bindGroupMisses'] as const;

function delta(a: EngineStats, b: EngineStats, wallMs: number): IterationStats {
  const d = Object.fromEntries(KEYS.map((k) => [k, b[k] - a[k]])) as Record<(typeof KEYS)[number], number>;
  const per = (ms: number) => (d.dispatches ? (1000 * ms) / d.dispatches : 0);
  return { wallMs, ...d, newPipelines: b.pipelines - a.pipelines, hostUsPerDispatch: per(d.encodeMs), hostCpuUsPerDispatch: per(d.encodeCpuMs) };
}

function mean(runs: IterationStats[]): IterationStats {
  const keys = Object.keys(runs[0]) as (keyof IterationStats)[];
  const out = {} as IterationStats;
  for (const k of keys) out[k] = runs.reduce((s, r) => s + r[k], 0) / runs.length;
  const walls = runs.map((r) => r.wallMs).sort((x, y) => x - y);
  const mid = walls.length >> 1;
  out.wallMs = walls.length % 2 ? walls[mid] : (walls[mid - 1] + walls[mid]) / 2;
  return out;
}

/** Progress on stderr: a full-size iteration takes minutes on a CPU adapter. */
const say = (msg: string) => process.stderr.write(`[seco-step ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

export async function measureSecoStep(o: SecoStepOptions): Promise<SecoStepReport> {
  const config = stepConfig(o);
  const n = o.iterations ?? 1;
  const pin = o.pinHost ? hostPinning() : null;
  if (o.pinHost && !pin) say('SECO_PIN_HOST: pinning needs Linux, 2 or more cores and koffi; running unpinned');
  pin?.beforeInit();
  await init();
  const e = engine();
  e.trackQueueIdle = true;
  e.hostCpuClock = threadCpuClock();
  const t = config.train;
  say(`${o.preset}: crop ${t.crop_size}, batch ${t.batch_size}, ${config.model.depth}-block ViT dim ${config.model.embed_dim}, on ${e.adapterDescription}`);
  const t0 = performance.now();
  const trainer = await createSecoTrainer(config);
  await e.sync();
  const setupMs = performance.now() - t0;
  try {
    const run = async (it: number, read: boolean) => {
      const before = e.stats();
      const start = performance.now();
      const losses = await trainer.step(it, schedulePoint(config, it), read);
      await e.sync();
      const stats = delta(before, e.stats(), performance.now() - start);
      say(`iteration ${it}: ${stats.wallMs.toFixed(0)} ms, ${stats.dispatches} dispatches, ${stats.hostCpuUsPerDispatch.toFixed(1)} µs of host CPU each, ${stats.bindGroupMisses} bind groups created`);
      return { stats, losses };
    };
    const cold = await run(0, true);
    // The driver's threads and the loader's workers exist by now, on the other cores.
    pin?.afterInit();
    const warm: IterationStats[] = [];
    for (let it = 1; it <= n; it++) warm.push((await run(it, false)).stats);
    const s = e.stats();
    return {
      preset: o.preset,
      hostPinned: pin !== null,
      crop: t.crop_size,
      batch: t.batch_size,
      iterations: n,
      adapter: e.adapterDescription,
      setupMs,
      cold: cold.stats,
      warm: warm.length ? mean(warm) : null,
      warmWallMs: warm.map((w) => w.wallMs),
      timed: warm,
      pipelines: s.pipelines,
      peakLiveBytes: s.peakLiveBytes,
      losses: cold.losses ?? {},
    };
  } finally {
    await trainer.close();
  }
}
