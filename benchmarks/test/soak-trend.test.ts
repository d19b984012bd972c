// The soak's flatness verdict and options: pure host code, no GPU.
import { describe, expect, test } from 'vitest';
import { soakOptionsFromEnv } from '../soak/config.ts';
import { secondHalfTrend, slope } from '../soak/trend.ts';

describe('soak trend', () => {
  test('slope is the least-squares fit', () => {
    expect(slope([0, 1, 2, 3], [1, 3, 5, 7])).toBeCloseTo(2, 12);
    expect(slope([0, 10, 20], [5, 5, 5])).toBe(0);
    expect(() => slope([1], [1])).toThrow(/two or more/);
    expect(() => slope([2, 2], [1, 3])).toThrow(/distinct x/);
  });

  test('a warm-up in the first half does not count; growth in the second half does', () => {
    const x = [25, 50, 75, 100, 125, 150, 175, 200];
    const warm = [100, 180, 200, 200, 200, 200, 200, 200];
    expect(secondHalfTrend(x, warm, 0.01)).toEqual({ slopePer1k: 0, growth: 0, relGrowth: 0, flat: true });
    // One buffer more every 25 iterations from a level of ~200: 3 over the half, 1.5% of the level.
    const leak = [100, 180, 200, 201, 202, 203, 204, 205].map((v, i) => (i < 4 ? warm[i] : v));
    const t = secondHalfTrend(x, leak, 0.01);
    expect(t.slopePer1k).toBeCloseTo(40, 9);
    expect(t.growth).toBeCloseTo(3, 9);
    expect(t.flat).toBe(false);
    expect(secondHalfTrend(x, leak, 0.02).flat).toBe(true);
    // Shrinking is flat enough; a quantity at 0 that stays 0 too.
    expect(secondHalfTrend(x, [9, 9, 9, 9, 8, 7, 6, 5], 0.01).flat).toBe(true);
    expect(secondHalfTrend(x, new Array(8).fill(0), 0.01).flat).toBe(true);
  });

  test('options from the environment, bad values named', () => {
    expect(soakOptionsFromEnv({})).toEqual({ iterations: 2000, every: 25, images: 200, sets: [] });
    expect(soakOptionsFromEnv({ SECO_SOAK_ITERS: '300', SECO_SOAK_SET: ' model.depth=2  train.warmup_iters=2 ' })).toMatchObject({ iterations: 300, sets: ['model.depth=2', 'train.warmup_iters=2'] });
    expect(() => soakOptionsFromEnv({ SECO_SOAK_ITERS: 'many' })).toThrow('SECO_SOAK_ITERS=many: expected an integer >= 4');
    expect(() => soakOptionsFromEnv({ SECO_SOAK_ITERS: '40', SECO_SOAK_EVERY: '20' })).toThrow(/under 4 samples/);
  });
});
