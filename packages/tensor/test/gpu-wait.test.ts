// dawn.node settles its promises from a setImmediate loop that spins a core for as long as one is pending; the
// engine's waits (sync, read, warmup) go through gpuWait, which sleeps between turns of the event loop.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import * as T from '../src/index.ts';

beforeAll(async () => {
  await T.init();
});

afterAll(() => {
  T.shutdown();
});

/** Turns of the event loop (setImmediate callbacks) while `wait` runs, and its wall time in ms. */
async function turnsDuring(wait: () => Promise<unknown>): Promise<{ turns: number; ms: number }> {
  let turns = 0;
  let counting = true;
  const tick = () => {
    turns++;
    if (counting) setImmediate(tick);
  };
  setImmediate(tick);
  const t0 = performance.now();
  await wait();
  const ms = performance.now() - t0;
  counting = false;
  return { turns, ms };
}

const work = (a: T.Tensor) =>
  T.noGrad(() =>
    T.scope(() => {
      let x = a;
      for (let i = 0; i < 6; i++) x = T.mul(T.matmul(x, a), 1 / a.shape[0]);
      return T.keep(x);
    }),
  );

describe('GPU waits', () => {
  test('sync and read turn the event loop about once a millisecond, not in a busy loop', async () => {
    T.manualSeed(0);
    const a = T.randn([384, 384]);
    const y = work(a);
    await y.data();
    y.dispose();
    // Enough GPU work for a wait of tens of milliseconds or more on any adapter this runs on.
    const z = work(a);
    const synced = await turnsDuring(() => T.engine().sync());
    const w = work(a);
    const read = await turnsDuring(() => w.data());
    for (const [name, r] of [['sync', synced], ['read', read]] as const) {
      // Spinning turns the loop every few microseconds; the back-off (20 µs doubling to 1 ms) at most ~6 times
      // in its first millisecond, then once a millisecond.
      expect(r.turns, `${name}: ${r.turns} turns in ${r.ms.toFixed(1)} ms`).toBeLessThanOrEqual(2 * r.ms + 20);
    }
    for (const t of [a, z, w]) t.dispose();
  });

  test("queue-idle tracking's completion callbacks do not spin the loop while the host awaits something else", async () => {
    const e = T.engine();
    T.manualSeed(1);
    const a = T.randn([384, 384]);
    const y = work(a);
    await y.data();
    y.dispose();
    const track = e.trackQueueIdle;
    e.trackQueueIdle = true;
    try {
      const z = work(a);
      e.flush(); // submitted: its completion callback is pending while the host waits on a timer
      const r = await turnsDuring(() => new Promise((resolve) => setTimeout(resolve, 30)));
      expect(r.turns, `${r.turns} turns in ${r.ms.toFixed(1)} ms`).toBeLessThanOrEqual(2 * r.ms + 20);
      await z.data();
      z.dispose();
    } finally {
      e.trackQueueIdle = track;
    }
    a.dispose();
  });
});
