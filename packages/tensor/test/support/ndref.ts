// Coordinate-level f64 CPU references for shape, view and indexing ops: each op is written as
// "output element at coordinates c = input element at f(c)", the most direct reading of its definition.
import type { ND } from '../../../../test/support/gradcheck.ts';

export function coordsOf(i: number, shape: readonly number[]): number[] {
  const c = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    c[d] = i % shape[d];
    i = Math.floor(i / shape[d]);
  }
  return c;
}

export function flatOf(c: readonly number[], shape: readonly number[]): number {
  let i = 0;
  for (let d = 0; d < shape.length; d++) i = i * shape[d] + c[d];
  return i;
}

export const at = (x: ND, c: readonly number[]): number => x.data[flatOf(c, x.shape)];

/** An ND of `shape` whose element at c is f(c). */
export function build(shape: readonly number[], f: (c: number[]) => number): ND {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float64Array(n);
  for (let i = 0; i < n; i++) data[i] = f(coordsOf(i, shape));
  return { data, shape: [...shape] };
}

export const permuteND = (x: ND, dims: number[]): ND =>
  build(
    dims.map((d) => x.shape[d]),
    (c) => {
      const src = new Array<number>(dims.length);
      dims.forEach((d, i) => (src[d] = c[i]));
      return at(x, src);
    },
  );

export const transposeND = (x: ND, a: number, b: number): ND => {
  const dims = x.shape.map((_, i) => i);
  dims[a] = b;
  dims[b] = a;
  return permuteND(x, dims);
};

/** Python slicing [start:stop:step] per dimension, step > 0, bounds already in range. */
export const sliceND = (x: ND, specs: [number, number, number][]): ND =>
  build(
    specs.map(([s, e, st]) => Math.max(0, Math.ceil((e - s) / st))),
    (c) => at(x, c.map((v, d) => specs[d][0] + v * specs[d][2])),
  );

export const reshapeND = (x: ND, shape: number[]): ND => ({ data: x.data, shape });

export function concatND(xs: ND[], dim: number): ND {
  const shape = [...xs[0].shape];
  shape[dim] = xs.reduce((a, x) => a + x.shape[dim], 0);
  return build(shape, (c) => {
    let k = c[dim];
    for (const x of xs) {
      if (k < x.shape[dim]) return at(x, c.map((v, d) => (d === dim ? k : v)));
      k -= x.shape[dim];
    }
    throw new Error('unreachable');
  });
}

/** f32-rounded random integers in [0, n) (or any range), as indices for the GPU and the reference. */
export function randomInts(count: number, lo: number, hi: number, rng: (a?: number, b?: number) => number): number[] {
  return Array.from({ length: count }, () => Math.floor(rng(lo, hi)));
}
