// SeCo's training numbers (moved out of the engine) against the optimizer fixture they came from.
import { describe, expect, test } from 'vitest';
import type { PolyWarmupConfig } from '@seco/tensor';
import { expectClose, loadJson } from '../../../test/support/fixtures.ts';
import { SECO_CHECKPOINT_FORMAT } from '../src/seco/checkpoint-format.ts';
import { secoParamGroups } from '../src/train/param-groups.ts';
import { SECO_EMA_MOMENTUM, SECO_POLY_WARMUP } from '../src/seco/train/recipe.ts';

const LR_TOL = { rtol: 1e-12, atol: 0 };

interface ScheduleCase {
  params: { base_lrs: number[]; warmup_iter: number; max_iter: number; warmup_ratio: number; power: number };
  outputs: { schedule: unknown[] };
}
interface EmaCase {
  params: { momentum: number };
  outputs: { k_after_each_step: unknown[] };
}

// Cases are told apart by what they hold (a schedule table, an EMA trajectory), not by name.
const optimCases = () => loadJson<{ cases: Record<string, unknown>[] }>('optim/optim.json').cases;
const outputsHave = (c: Record<string, unknown>, key: string) => key in ((c.outputs as object | undefined) ?? {});
const scheduleCases = () => optimCases().filter((c) => outputsHave(c, 'schedule')) as unknown as ScheduleCase[];
const emaCases = () => optimCases().filter((c) => outputsHave(c, 'k_after_each_step')) as unknown as EmaCase[];
const scheduleOf = (c: ScheduleCase): PolyWarmupConfig => ({ warmupIter: c.params.warmup_iter, maxIter: c.params.max_iter, warmupRatio: c.params.warmup_ratio, power: c.params.power });

describe("SeCo's training recipe", () => {
  test("SECO_POLY_WARMUP and secoParamGroups' multipliers are a schedule of the file (SeCo's VOC run)", () => {
    const same = (x: PolyWarmupConfig, y: PolyWarmupConfig) => x.warmupIter === y.warmupIter && x.maxIter === y.maxIter && x.warmupRatio === y.warmupRatio && x.power === y.power;
    expect(Object.keys(SECO_POLY_WARMUP).sort()).toEqual(['maxIter', 'power', 'warmupIter', 'warmupRatio']);
    const seco = scheduleCases().filter((c) => same(scheduleOf(c), SECO_POLY_WARMUP));
    expect(seco.length, JSON.stringify(scheduleCases().map(scheduleOf))).toBeGreaterThan(0);
    for (const c of seco) {
      const groups = secoParamGroups({ encoder: [], heads: [], decoder: [] }, c.params.base_lrs[0]);
      expectClose(groups.map((g) => g.lr!), c.params.base_lrs, LR_TOL, 'secoParamGroups lrs');
    }
  });

  test("SECO_EMA_MOMENTUM is the momentum of an EMA case (SeCo's)", () => {
    expect(emaCases().map((c) => c.params.momentum)).toContain(SECO_EMA_MOMENTUM);
  });

  test('the checkpoint tag is the one every earlier checkpoint carries', () => {
    expect(SECO_CHECKPOINT_FORMAT).toBe('seco-checkpoint/1');
  });
});
