// PyTorch's CPU random permutation, bit for bit: assign_csc_tags calls torch.manual_seed(0) then randperm(n).

/** at::mt19937 (PyTorch's CPU generator engine): standard MT19937 seeded with the low 32 bits of the seed. */
export class Mt19937 {
  private readonly mt = new Uint32Array(624);
  private index = 624;

  constructor(seed: number) {
    this.mt[0] = seed >>> 0;
    for (let i = 1; i < 624; i++) {
      const prev = this.mt[i - 1] ^ (this.mt[i - 1] >>> 30);
      this.mt[i] = (Math.imul(1812433253, prev) + i) >>> 0;
    }
  }

  private twist(): void {
    const mt = this.mt;
    for (let i = 0; i < 624; i++) {
      const y = (mt[i] & 0x80000000) | (mt[(i + 1) % 624] & 0x7fffffff);
      mt[i] = mt[(i + 397) % 624] ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
    }
    this.index = 0;
  }

  /** The next 32-bit output (CPUGeneratorImpl::random()). */
  nextUint32(): number {
    if (this.index >= 624) this.twist();
    let y = this.mt[this.index++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }
}

/**
 * The first `k` entries of torch.randperm(n) on the CPU right after torch.manual_seed(seed). PyTorch's
 * randperm_cpu (n < 2^32/20) starts from the identity and for i = 0..n−2 swaps r[i] with r[i + random() % (n−i)];
 * entry i is final after step i, so only min(k, n−1) draws are needed, and swaps are kept in a sparse map.
 */
export function torchRandpermPrefix(n: number, k: number, seed = 0): Int32Array {
  if (!Number.isInteger(n) || n < 0 || n >= 2 ** 32 / 20) throw new RangeError(`torchRandpermPrefix: n must be an integer in [0, 2^32/20), got ${n}`);
  const gen = new Mt19937(seed);
  const m = Math.min(k, n);
  const moved = new Map<number, number>();
  const get = (i: number) => moved.get(i) ?? i;
  const out = new Int32Array(m);
  for (let i = 0; i < m; i++) {
    if (i < n - 1) {
      const j = i + (gen.nextUint32() % (n - i));
      const vi = get(i);
      moved.set(i, get(j));
      moved.set(j, vi);
    }
    out[i] = get(i);
  }
  return out;
}

/** torch.randperm(n) after torch.manual_seed(seed), CPU. */
export const torchRandperm = (n: number, seed = 0): Int32Array => torchRandpermPrefix(n, n, seed);
