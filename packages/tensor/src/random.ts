/**
 * Threefry-2x32 (20 rounds), the counter-based generator of Random123 and JAX: the same key and counter give
 * the same bits on every device, in WGSL and in this TypeScript copy.
 */
const ROT = [13, 15, 26, 6, 17, 29, 16, 24];

export function threefry2x32(k0: number, k1: number, c0: number, c1: number): [number, number] {
  const ks = [k0 >>> 0, k1 >>> 0, (k0 ^ k1 ^ 0x1bd11bda) >>> 0];
  let x0 = (c0 + ks[0]) >>> 0;
  let x1 = (c1 + ks[1]) >>> 0;
  for (let i = 0; i < 5; i++) {
    for (let j = 0; j < 4; j++) {
      const r = ROT[(i % 2) * 4 + j];
      x0 = (x0 + x1) >>> 0;
      x1 = ((x1 << r) | (x1 >>> (32 - r))) >>> 0;
      x1 = (x1 ^ x0) >>> 0;
    }
    x0 = (x0 + ks[(i + 1) % 3]) >>> 0;
    x1 = (x1 + ks[(i + 2) % 3] + i + 1) >>> 0;
  }
  return [x0, x1];
}

export const THREEFRY_WGSL = /* wgsl */ `
fn rotl32(x: u32, r: u32) -> u32 { return (x << r) | (x >> (32u - r)); }
fn threefry2x32(k0: u32, k1: u32, c0: u32, c1: u32) -> vec2<u32> {
  let ks = array<u32, 3>(k0, k1, k0 ^ k1 ^ 0x1bd11bdau);
  let rot = array<u32, 8>(13u, 15u, 26u, 6u, 17u, 29u, 16u, 24u);
  var x0 = c0 + ks[0];
  var x1 = c1 + ks[1];
  for (var i = 0u; i < 5u; i++) {
    for (var j = 0u; j < 4u; j++) {
      x0 = x0 + x1;
      x1 = rotl32(x1, rot[(i % 2u) * 4u + j]);
      x1 = x1 ^ x0;
    }
    x0 = x0 + ks[(i + 1u) % 3u];
    x1 = x1 + ks[(i + 2u) % 3u] + i + 1u;
  }
  return vec2<u32>(x0, x1);
}
fn bits_to_unit(b: u32) -> f32 { return f32(b >> 8u) * 5.9604644775390625e-8; }
`;

/** Uniform in [0, 1) from 32 random bits (24 significant). */
export function bitsToUnit(b: number): number {
  return (b >>> 8) * 2 ** -24;
}

/** A seeded stream: each draw takes a fresh counter block, so draws never overlap and the state is two numbers. */
export class Generator {
  constructor(
    public seed = 0,
    /** Draws made so far; part of the state saved in checkpoints. */
    public draws = 0,
  ) {}

  /** Key and stream id for the next draw. */
  next(): { k0: number; k1: number; stream: number } {
    const s = this.draws++;
    return { k0: this.seed >>> 0, k1: Math.floor(this.seed / 2 ** 32) >>> 0, stream: s >>> 0 };
  }

  state(): { seed: number; draws: number } {
    return { seed: this.seed, draws: this.draws };
  }

  setState(s: { seed: number; draws: number }): void {
    this.seed = s.seed;
    this.draws = s.draws;
  }
}

export const defaultGenerator = new Generator(0);

export function manualSeed(seed: number): void {
  defaultGenerator.seed = seed;
  defaultGenerator.draws = 0;
}
