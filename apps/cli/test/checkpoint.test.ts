import { mkdtempSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as T from '@seco/tensor';
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { CheckpointError, CheckpointManager, checkpointName } from '../src/checkpoint/manager.ts';
import { PRESETS } from '../src/config/presets.ts';
import { schedulePoint } from '../src/schedule.ts';
import { ToyTrainer } from './support/toy-trainer.ts';

beforeAll(async () => {
  await T.init();
});

const live: ToyTrainer[] = [];
afterEach(() => {
  for (const t of live.splice(0)) t.dispose();
});
const toy = (seed: number) => {
  const t = new ToyTrainer(seed);
  live.push(t);
  return t;
};
const tmp = () => mkdtempSync(join(tmpdir(), 'seco-cli-ckpt-'));
const point = schedulePoint(PRESETS.demo, 0);
const run = async (t: ToyTrainer, from: number, to: number) => {
  for (let i = from; i < to; i++) await t.step(i, point, false);
};
const config = { note: 'config snapshot' };

describe('checkpoints', () => {
  test('round trip: weights, optimizer state, buffers, RNG and loader position resume bit for bit', async () => {
    const dir = tmp();
    const a = toy(1);
    await run(a, 0, 3);
    const mgr = new CheckpointManager(dir, { keep: 3 });
    const path = await mgr.save(3, a.state, config);
    expect(path).toBe(join(dir, checkpointName(3)));

    const b = toy(99); // different init: everything must come from the file
    const r = await mgr.resume(b.state);
    expect(r).toEqual({ step: 3, path, config });
    expect(await b.snapshot()).toEqual(await a.snapshot());
    expect(b.gen.state()).toEqual(a.gen.state());
    expect(b.position).toEqual({ epoch: 0, step: 3 });
    // The optimizer moments came back too: the next steps agree exactly.
    await run(a, 3, 5);
    await run(b, 3, 5);
    expect(await b.snapshot()).toEqual(await a.snapshot());
    expect(b.opt.globalStep).toBe(a.opt.globalStep);
  });

  test('keeps only the last K', async () => {
    const dir = tmp();
    const a = toy(1);
    const mgr = new CheckpointManager(dir, { keep: 2 });
    for (const s of [1, 2, 3, 4]) {
      await run(a, s - 1, s);
      await mgr.save(s, a.state, config);
    }
    expect((await mgr.list()).map((c) => c.step)).toEqual([3, 4]);
    expect(readdirSync(dir).sort()).toEqual([checkpointName(3), checkpointName(4)]);
  });

  test('a failed write leaves the previous checkpoint intact and no partial file', async () => {
    const dir = tmp();
    const a = toy(1);
    await run(a, 0, 2);
    const mgr = new CheckpointManager(dir, { keep: 1 });
    const first = await mgr.save(2, a.state, config);
    const bytes = readFileSync(first);
    await run(a, 2, 4);
    // A writer that gets half the file out under the final name, then fails: the worst a non-atomic writer does.
    const failing = new CheckpointManager(dir, {
      keep: 1,
      writer: async (path, ck) => {
        const all = await T.serializeCheckpoint(ck);
        writeFileSync(path, all.subarray(0, all.length >> 1));
        throw Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' });
      },
    });
    await expect(failing.save(4, a.state, config)).rejects.toThrow(
      `saving checkpoint step 4 to ${join(dir, checkpointName(4))} failed: EIO: i/o error, write; the previous checkpoint ${first} (step 2) is intact`,
    );
    expect(readdirSync(dir)).toEqual([checkpointName(2)]);
    expect(readFileSync(first).equals(bytes)).toBe(true);
    const b = toy(5);
    expect((await mgr.resume(b.state))?.step).toBe(2);
  });

  test('a full disk (ENOSPC) is reported as such; nothing is pruned and the previous checkpoint survives', async () => {
    const dir = tmp();
    const a = toy(1);
    const mgr = new CheckpointManager(dir, { keep: 1 });
    const first = await mgr.save(1, a.state, config);
    // Through the real atomic saver, with the disk filling up in the middle of the temp file.
    const full = new CheckpointManager(dir, {
      keep: 1,
      writer: async (path) => {
        const err = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28 });
        throw new T.IoError(path, `write failed, previous file left unchanged: ${err.message}`, { cause: err });
      },
    });
    const e = await full.save(2, a.state, config).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CheckpointError);
    expect((e as Error).message).toContain('the disk is full (ENOSPC); free space or pass a different --out');
    expect((e as Error).message).toContain(`the previous checkpoint ${first} (step 1) is intact`);
    expect(readdirSync(dir)).toEqual([checkpointName(1)]);
  });

  test('the real atomic writer leaves no temp file when the data cannot be read', async () => {
    const dir = tmp();
    const a = toy(1);
    const mgr = new CheckpointManager(dir, { keep: 2 });
    await mgr.save(1, a.state, config);
    const gone = T.zeros([2]);
    gone.dispose();
    const bad = { tensors: () => ({ ...a.state.tensors(), gone }), meta: () => a.state.meta(), load: a.state.load };
    await expect(mgr.save(2, bad, config)).rejects.toThrow(/saving checkpoint step 2 .* failed: .*the previous checkpoint .* \(step 1\) is intact/);
    expect(readdirSync(dir)).toEqual([checkpointName(1)]);
  });

  test('a truncated newest checkpoint is skipped with a warning; resume takes the previous one', async () => {
    const dir = tmp();
    const a = toy(1);
    const warnings: string[] = [];
    const mgr = new CheckpointManager(dir, { keep: 3, warn: (m) => warnings.push(m) });
    await run(a, 0, 2);
    await mgr.save(2, a.state, config);
    const at2 = await a.snapshot();
    await run(a, 2, 4);
    const newest = await mgr.save(4, a.state, config);
    truncateSync(newest, Math.floor(statSync(newest).size * 0.6));

    const b = toy(7);
    const r = await mgr.resume(b.state);
    expect(r?.step).toBe(2);
    expect(await b.snapshot()).toEqual(at2);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`checkpoint ${newest} is unreadable`);
    expect(warnings[0]).toContain(`falling back to ${join(dir, checkpointName(2))}`);
  });

  test('garbage in every file: resume fails naming the folder; an empty folder resumes nothing', async () => {
    const dir = tmp();
    writeFileSync(join(dir, checkpointName(1)), 'not a checkpoint');
    const warnings: string[] = [];
    const mgr = new CheckpointManager(dir, { keep: 3, warn: (m) => warnings.push(m) });
    await expect(mgr.resume(toy(1).state)).rejects.toThrow(`no readable checkpoint in ${dir}: all 1 failed to load`);
    expect(warnings[0]).toContain('no older checkpoint to fall back to');
    expect(await new CheckpointManager(tmp(), { keep: 1 }).resume(toy(1).state)).toBeNull();
  });

  test('a checkpoint whose tensors do not fit the model is an error, not a fallback', async () => {
    const dir = tmp();
    const mgr = new CheckpointManager(dir, { keep: 3 });
    await mgr.save(1, toy(1).state, config);
    const other = new T.nn.Linear(4, 5);
    try {
      const state = { tensors: () => ({}), meta: () => null, load: (rec: T.TensorRecord) => void other.loadStateDict(rec) };
      const err = await mgr.resume(state).then(() => null, (e: Error) => e);
      expect(err?.message).toMatch(/unexpected keys/);
      // It names the file, and stays one readable line however many keys differ.
      expect(err?.message).toContain(join(dir, checkpointName(1)));
      expect(err!.message.length).toBeLessThan(1000);
    } finally {
      other.dispose();
    }
  });

  test('temporary files of saves killed mid-write are removed on resume; a live writer keeps its own', async () => {
    const dir = tmp();
    const mgr = new CheckpointManager(dir, { keep: 3 });
    await mgr.save(2, toy(1).state, config);
    // A pid that cannot be running (above the kernel's maximum), and this process's own.
    const dead = `.${checkpointName(4)}.4194305.0.abc123.tmp`;
    const mine = `.${checkpointName(6)}.${process.pid}.0.def456.tmp`;
    writeFileSync(join(dir, dead), 'partial');
    writeFileSync(join(dir, mine), 'partial');
    expect((await mgr.resume(toy(2).state))?.step).toBe(2);
    expect(readdirSync(dir).sort()).toEqual([mine, checkpointName(2)].sort());
  });
});
