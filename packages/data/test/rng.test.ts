import { describe, expect, it } from 'vitest';
import { deriveSeed, Rng } from '../src/rng.ts';

describe('Rng', () => {
  it('repeats a stream for a seed and differs across seeds', () => {
    const a = new Rng(42), b = new Rng(42), c = new Rng(43);
    const xa = Array.from({ length: 100 }, () => a.nextU32());
    expect(Array.from({ length: 100 }, () => b.nextU32())).toEqual(xa);
    expect(Array.from({ length: 100 }, () => c.nextU32())).not.toEqual(xa);
  });

  it('restores from a serialised state mid-stream', () => {
    const a = new Rng(7);
    for (let i = 0; i < 13; i++) a.random();
    const saved = JSON.parse(JSON.stringify(a.state()));
    const want = Array.from({ length: 20 }, () => a.random());
    const b = Rng.fromState(saved);
    expect(Array.from({ length: 20 }, () => b.random())).toEqual(want);
    expect(() => Rng.fromState([0, 0, 0, 0])).toThrow(/all zero/);
  });

  it('draws unbiased integers and uniforms in range', () => {
    const r = new Rng(1);
    const counts = new Array(6).fill(0);
    for (let i = 0; i < 60000; i++) counts[r.int(6)]++;
    for (const n of counts) expect(Math.abs(n - 10000)).toBeLessThan(400);
    for (let i = 0; i < 1000; i++) {
      const u = r.uniform(0.5, 2);
      expect(u).toBeGreaterThanOrEqual(0.5);
      expect(u).toBeLessThan(2);
    }
    expect(() => r.int(0)).toThrow();
    const p = r.permutation(50);
    expect([...p].sort((x, y) => x - y)).toEqual([...Array(50).keys()]);
  });

  it('derives distinct seeds from (seed, epoch, index) in order', () => {
    const seen = new Set<number>();
    for (let e = 0; e < 4; e++) for (let i = 0; i < 500; i++) seen.add(deriveSeed(0, e, i));
    expect(seen.size).toBe(2000);
    expect(deriveSeed(1, 2, 3)).toBe(deriveSeed(1, 2, 3));
    expect(deriveSeed(1, 2, 3)).not.toBe(deriveSeed(1, 3, 2));
    expect(deriveSeed(0, 2 ** 40)).not.toBe(deriveSeed(0, 0));
  });
});
