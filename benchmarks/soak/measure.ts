// N training iterations through the CLI's trainer, as `seco train` runs them (losses read back and the divergence
// watch read at log steps, the whole TrainState serialised at checkpoint steps), sampling GPU and host memory.
import { rmSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createSecoTrainer, schedulePoint } from '@seco/cli/training';
import { SECO_CHECKPOINT_FORMAT } from '@seco/models';
import { engine, init, type JsonValue, serializeCheckpoint } from '@seco/tensor';
import { type SoakOptions, soakConfig } from './config.ts';

export interface SoakSample {
  /** Iterations done when sampled. */
  iteration: number;
  /** Buffers and bytes handed out by the engine's pool and not yet released. */
  liveBuffers: number;
  liveBytes: number;
  /** Bytes the pool keeps for reuse (device memory too). */
  pooledBytes: number;
  /** Process resident set and V8 heap in use, after a full garbage collection. */
  rss: number;
  heapUsed: number;
  /** Mean wall milliseconds per iteration since the previous sample. */
  msPerIteration: number;
}

export interface SoakReport {
  options: SoakOptions;
  adapter: string;
  crop: number;
  batch: number;
  depth: number;
  embedDim: number;
  /** Sampled right after the trainer was built, before the first iteration. */
  start: SoakSample;
  samples: SoakSample[];
  /** Checkpoints serialised (in memory) along the way. */
  checkpoints: number;
  wallS: number;
}

// A full collection before each sample, so the heap and RSS figures are what is still reachable, not where the
// collector's sawtooth happened to be (20-50 MiB of V8 heap between samples in a first 8-iteration run).
setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;

const say = (msg: string) => process.stderr.write(`[soak ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

function sample(iteration: number, msPerIteration: number): SoakSample {
  collect();
  const s = engine().stats();
  const m = process.memoryUsage();
  return { iteration, liveBuffers: s.liveBuffers, liveBytes: s.liveBytes, pooledBytes: s.pooledBytes, rss: m.rss, heapUsed: m.heapUsed, msPerIteration };
}

export async function measureSoak(o: SoakOptions): Promise<SoakReport> {
  const { config, dataDir } = soakConfig(o);
  await init();
  const e = engine();
  const t0 = performance.now();
  const trainer = await createSecoTrainer(config);
  try {
    const divergence = trainer.divergence;
    if (!divergence) throw new Error('soak: the SeCo trainer has no divergence watch to read');
    await e.sync();
    const start = sample(0, 0);
    const samples: SoakSample[] = [];
    say(`${o.iterations} iterations of the demo config (crop ${config.train.crop_size}, batch ${config.train.batch_size}) on ${e.adapterDescription}, memory every ${o.every}`);
    let checkpoints = 0;
    let last = performance.now();
    for (let it = 0; it < o.iterations; it++) {
      const logStep = (it + 1) % config.log.interval === 0;
      await trainer.step(it, schedulePoint(config, it), logStep);
      if (logStep) {
        const d = await divergence();
        if (d) throw new Error(`soak: training diverged at iteration ${d.iteration + 1} (${d.term}); the memory figures would not be of a normal run`);
      }
      if ((it + 1) % config.log.checkpoint_interval === 0) {
        await serializeCheckpoint({ format: SECO_CHECKPOINT_FORMAT, tensors: trainer.state.tensors(), step: it + 1, meta: trainer.state.meta() as JsonValue });
        checkpoints++;
      }
      if ((it + 1) % o.every === 0) {
        await e.sync();
        const now = performance.now();
        const s = sample(it + 1, (now - last) / o.every);
        last = now;
        samples.push(s);
        say(`iteration ${it + 1}: ${s.liveBuffers} live buffers (${(s.liveBytes / 2 ** 20).toFixed(1)} MiB), rss ${(s.rss / 2 ** 20).toFixed(0)} MiB, ${s.msPerIteration.toFixed(0)} ms/it`);
      }
    }
    const c = config;
    return { options: o, adapter: e.adapterDescription, crop: c.train.crop_size, batch: c.train.batch_size, depth: c.model.depth, embedDim: c.model.embed_dim, start, samples, checkpoints, wallS: (performance.now() - t0) / 1000 };
  } finally {
    await trainer.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
