/**
 * The permutohedral lattice of Adams, Baek and Davis (2010) as Krähenbühl's DenseCRF builds it: Gaussian
 * filtering in d-dimensional feature space by splatting onto the vertices of enclosing simplices, blurring
 * along each of the d+1 lattice axes, and slicing back. O(N·d²) to build, O(N·d·C) per filter.
 *
 * The structure (offsets, weights, blur neighbours) depends only on the features, so it is built once per
 * image and reused for every filter: the 10 mean-field iterations of DenseCRF, or the energy loss.
 */
export class PermutohedralLattice {
  readonly n: number;
  readonly d: number;
  /** Lattice vertices. */
  readonly m: number;
  /** For pixel i and vertex k of its simplex: the vertex index + 1 (0 is the all-zero sentinel). */
  readonly offsets: Int32Array;
  readonly weights: Float32Array;
  /** For axis j and vertex v: the two neighbours along that axis (+1; 0 where absent). */
  readonly blurNeighbours: Int32Array;

  /**
   * `features` is row-major (n, d). `zeroPoints` all-zero feature points are placed after the n real ones: their
   * simplex vertices join the lattice (and so the blur) but they carry no value and are never sliced. rloss'
   * SSE build pads its points this way to a multiple of 4 (losses/bilateral.ts).
   */
  constructor(features: Float32Array, n: number, d: number, zeroPoints = 0) {
    if (features.length !== n * d) throw new Error(`PermutohedralLattice: ${features.length} features for ${n} points of dimension ${d}`);
    if (!Number.isInteger(zeroPoints) || zeroPoints < 0) throw new Error(`PermutohedralLattice: zeroPoints must be a whole number >= 0, got ${zeroPoints}`);
    this.n = n;
    this.d = d;
    const d1 = d + 1;
    const table = new KeyTable(d, (n + zeroPoints) * d1);
    this.offsets = new Int32Array(n * d1);
    this.weights = new Float32Array(n * d1);

    const canonical = new Int32Array(d1 * d1);
    for (let i = 0; i <= d; i++) {
      for (let j = 0; j <= d - i; j++) canonical[i * d1 + j] = i;
      for (let j = d - i + 1; j <= d; j++) canonical[i * d1 + j] = i - d1;
    }
    const invStd = Math.sqrt(2 / 3) * d1;
    const scale = new Float32Array(d);
    for (let i = 0; i < d; i++) scale[i] = (1 / Math.sqrt((i + 2) * (i + 1))) * invStd;

    const elevated = new Float32Array(d1);
    const rem0 = new Int32Array(d1);
    const rank = new Int32Array(d1);
    const bary = new Float32Array(d + 2);
    const key = new Int32Array(d);
    const down = 1 / d1;

    for (let p = 0; p < n + zeroPoints; p++) {
      const f = p * d;
      const real = p < n;
      let sm = 0;
      for (let j = d; j > 0; j--) {
        const cf = real ? Math.fround(features[f + j - 1] * scale[j - 1]) : 0;
        elevated[j] = sm - j * cf;
        sm = Math.fround(sm + cf);
      }
      elevated[0] = sm;
      // The nearest point of the 0-coloured lattice: each coordinate rounded to a multiple of d+1.
      let sum = 0;
      for (let i = 0; i <= d; i++) {
        const v = down * elevated[i];
        const upV = Math.ceil(v) * d1;
        const downV = Math.floor(v) * d1;
        rem0[i] = upV - elevated[i] < elevated[i] - downV ? upV : downV;
        sum += rem0[i];
      }
      sum = Math.trunc(sum / d1);
      rank.fill(0);
      for (let i = 0; i < d; i++) {
        const di = elevated[i] - rem0[i];
        for (let j = i + 1; j <= d; j++) {
          if (di < elevated[j] - rem0[j]) rank[i]++;
          else rank[j]++;
        }
      }
      for (let i = 0; i <= d; i++) {
        rank[i] += sum;
        if (rank[i] < 0) {
          rank[i] += d1;
          rem0[i] += d1;
        } else if (rank[i] > d) {
          rank[i] -= d1;
          rem0[i] -= d1;
        }
      }
      bary.fill(0);
      for (let i = 0; i <= d; i++) {
        const v = Math.fround((elevated[i] - rem0[i]) * down);
        bary[d - rank[i]] += v;
        bary[d - rank[i] + 1] -= v;
      }
      bary[0] += 1 + bary[d + 1];
      for (let r = 0; r <= d; r++) {
        for (let i = 0; i < d; i++) key[i] = rem0[i] + canonical[r * d1 + rank[i]];
        const vertex = table.findOrInsert(key);
        if (!real) continue;
        this.offsets[p * d1 + r] = vertex + 1;
        this.weights[p * d1 + r] = bary[r];
      }
    }

    this.m = table.size;
    this.blurNeighbours = new Int32Array(2 * d1 * this.m);
    const n1 = new Int32Array(d);
    const n2 = new Int32Array(d);
    for (let j = 0; j <= d; j++) {
      for (let v = 0; v < this.m; v++) {
        const base = v * d;
        for (let k = 0; k < d; k++) {
          n1[k] = table.keys[base + k] - 1;
          n2[k] = table.keys[base + k] + 1;
        }
        if (j < d) {
          n1[j] = table.keys[base + j] + d;
          n2[j] = table.keys[base + j] - d;
        }
        const o = 2 * (j * this.m + v);
        this.blurNeighbours[o] = table.find(n1) + 1;
        this.blurNeighbours[o + 1] = table.find(n2) + 1;
      }
    }
  }

  /**
   * out = lattice filter of `input`, both (n, c) row-major (c values per point). `reverse` blurs the axes in
   * the opposite order, which gives the transposed filter.
   */
  filter(input: Float32Array, c: number, out = new Float32Array(this.n * c), reverse = false): Float32Array {
    const { n, d, m, offsets, weights, blurNeighbours } = this;
    const d1 = d + 1;
    let values = new Float32Array((m + 2) * c);
    let next = new Float32Array((m + 2) * c);
    for (let p = 0; p < n; p++) {
      for (let r = 0; r < d1; r++) {
        const o = offsets[p * d1 + r] * c;
        const w = weights[p * d1 + r];
        for (let k = 0; k < c; k++) values[o + k] += w * input[p * c + k];
      }
    }
    for (let step = 0; step <= d; step++) {
      const j = reverse ? d - step : step;
      for (let v = 0; v < m; v++) {
        const nb = 2 * (j * m + v);
        const a = blurNeighbours[nb] * c;
        const b = blurNeighbours[nb + 1] * c;
        const o = (v + 1) * c;
        for (let k = 0; k < c; k++) next[o + k] = values[o + k] + 0.5 * (values[a + k] + values[b + k]);
      }
      [values, next] = [next, values];
    }
    const alpha = 1 / (1 + 2 ** -d);
    out.fill(0);
    for (let p = 0; p < n; p++) {
      for (let r = 0; r < d1; r++) {
        const o = offsets[p * d1 + r] * c;
        const w = weights[p * d1 + r] * alpha;
        for (let k = 0; k < c; k++) out[p * c + k] += w * values[o + k];
      }
    }
    return out;
  }
}

/** Open-addressing hash from integer keys of length d to dense indices. */
class KeyTable {
  keys: Int32Array;
  size = 0;
  private slots: Int32Array;
  private mask: number;

  constructor(
    private readonly d: number,
    capacity: number,
  ) {
    let cap = 16;
    while (cap < capacity * 2) cap *= 2;
    this.slots = new Int32Array(cap).fill(-1);
    this.mask = cap - 1;
    this.keys = new Int32Array(Math.max(capacity, 1) * d);
  }

  private hash(key: Int32Array): number {
    let h = 0;
    for (let i = 0; i < this.d; i++) h = Math.imul(h + key[i], 2531011);
    return (h ^ (h >>> 15)) & this.mask;
  }

  private equals(index: number, key: Int32Array): boolean {
    const base = index * this.d;
    for (let i = 0; i < this.d; i++) if (this.keys[base + i] !== key[i]) return false;
    return true;
  }

  find(key: Int32Array): number {
    let s = this.hash(key);
    for (;;) {
      const idx = this.slots[s];
      if (idx < 0) return -1;
      if (this.equals(idx, key)) return idx;
      s = (s + 1) & this.mask;
    }
  }

  findOrInsert(key: Int32Array): number {
    let s = this.hash(key);
    for (;;) {
      const idx = this.slots[s];
      if (idx < 0) {
        const id = this.size++;
        this.keys.set(key, id * this.d);
        this.slots[s] = id;
        return id;
      }
      if (this.equals(idx, key)) return idx;
      s = (s + 1) & this.mask;
    }
  }
}
