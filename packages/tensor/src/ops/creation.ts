import { type AnyTypedArray, type DType, dtypeOfArray } from '../dtype.ts';
import { shapeError, TensorError } from '../errors.ts';
import { packHalves } from '../f16.ts';
import { flatRuns } from '../kernels/slices.ts';
import { ceilDiv, f32Bits, perElementMain, UniformLayout } from '../kernels/uniforms.ts';
import { defaultGenerator, type Generator, THREEFRY_WGSL } from '../random.ts';
import { engine } from '../runtime/engine.ts';
import { numel, type Shape, validateShape } from '../shape.ts';
import { Tensor } from '../tensor.ts';

type NestedNumbers = number | readonly NestedNumbers[];

function checkShape(op: string, shape: Shape): void {
  if (!Array.isArray(shape) || !validateShape(shape)) throw shapeError(op, 'dimensions must be non-negative integers', shape as number[]);
}

/** A tensor from host data: a typed array or nested arrays; `shape` defaults to the data's own. */
export function tensor(data: AnyTypedArray | NestedNumbers | readonly number[], shape?: Shape, dtype?: DType): Tensor {
  let flat: ArrayLike<number>;
  let inferred: number[];
  if (ArrayBuffer.isView(data)) {
    flat = data as AnyTypedArray;
    inferred = [flat.length];
  } else {
    inferred = [];
    let probe: NestedNumbers = data as NestedNumbers;
    while (Array.isArray(probe)) {
      inferred.push(probe.length);
      probe = probe[0] as NestedNumbers;
    }
    flat = typeof data === 'number' ? [data] : (data as unknown[]).flat(Infinity as 1) as number[];
  }
  const s = shape ?? inferred;
  checkShape('tensor', s);
  if (numel(s) !== flat.length) throw shapeError('tensor', `${flat.length} values do not fill the shape`, s);
  const dt = dtype ?? (ArrayBuffer.isView(data) ? dtypeOfArray(data as AnyTypedArray) : 'f32');
  const t = Tensor.empty(s, dt, 'tensor');
  if (flat.length > 0) {
    const arr =
      dt === 'f16' ? packHalves(flat) : dt === 'f32' ? Float32Array.from(flat) : dt === 'i32' ? Int32Array.from(flat) : Uint32Array.from(flat);
    const e = engine();
    if (e.nanCheck) {
      // Host data is checked here, so a NaN that arrives by upload is not blamed on the op that reads it.
      e.nanCheck.forget(t.buffer);
      const bad = dt === 'f32' ? (arr as Float32Array).findIndex((v) => !Number.isFinite(v)) : -1;
      if (bad >= 0) {
        t.dispose();
        throw new TensorError('tensor', `host data holds ${arr[bad]} at index ${bad} (NaN check is on)`);
      }
    }
    e.upload(t.buffer, arr);
  }
  return t;
}

export const fromArray = tensor;

/** A scalar (0-d) tensor. */
export const scalar = (value: number, dtype: DType = 'f32') => tensor([value], [], dtype);

export function full(shape: Shape, value: number, dtype: DType = 'f32'): Tensor {
  checkShape('full', shape);
  const t = Tensor.empty(shape, dtype, 'full');
  const n = numel(shape);
  if (n === 0) return t;
  const u = new UniformLayout().field('n').field('v').field('outOff');
  const code = () => `@group(0) @binding(0) var<storage, read_write> out: array<${dtype}>;
${u.declare(1)}
${perElementMain(256, u)}
  out[${u.at('outOff')} + gidx] = ${dtype === 'f16' ? `f16(bitcast<f32>(${u.at('v')}))` : `bitcast<${dtype}>(${u.at('v')})`};
}`;
  for (const r of flatRuns('full', t, n)) {
    engine().dispatch({
      label: 'full',
      key: `full|${dtype}`,
      code,
      buffers: [r.resource],
      uniforms: u.pack({ n: r.n, v: dtype === 'f32' || dtype === 'f16' ? f32Bits(value) : value, outOff: r.offset }),
      workgroups: ceilDiv(r.n, 256),
    });
  }
  return t;
}

export const zeros = (shape: Shape, dtype: DType = 'f32') => full(shape, 0, dtype);
export const ones = (shape: Shape, dtype: DType = 'f32') => full(shape, 1, dtype);
export const zerosLike = (t: Tensor) => full(t.shape, 0, t.dtype);
export const onesLike = (t: Tensor) => full(t.shape, 1, t.dtype);
export const fullLike = (t: Tensor, v: number) => full(t.shape, v, t.dtype);

/** start, start+step, ... below stop (one argument: 0..n-1). */
export function arange(startOrStop: number, stopOrDtype?: number | DType, stepArg = 1, dtypeArg?: DType): Tensor {
  let start = 0;
  let stop = startOrStop;
  let dtype: DType = 'f32';
  if (typeof stopOrDtype === 'number') {
    start = startOrStop;
    stop = stopOrDtype;
    dtype = dtypeArg ?? (Number.isInteger(start) && Number.isInteger(stepArg) ? 'i32' : 'f32');
  } else if (stopOrDtype) dtype = stopOrDtype;
  else dtype = dtypeArg ?? 'i32';
  if (stepArg === 0) throw new TensorError('arange', 'step must not be 0');
  const n = Math.max(0, Math.ceil((stop - start) / stepArg));
  const t = Tensor.empty([n], dtype, 'arange');
  if (n === 0) return t;
  const u = new UniformLayout().field('n').field('start').field('step').field('outOff').field('first');
  const T = dtype;
  // Halves are computed in f32 and rounded once.
  const C = T === 'f16' ? 'f32' : T;
  const code = () => `@group(0) @binding(0) var<storage, read_write> out: array<${T}>;
${u.declare(1)}
${perElementMain(256, u)}
  out[${u.at('outOff')} + gidx] = ${T}(bitcast<${C}>(${u.at('start')}) + ${C}(${u.at('first')} + gidx) * bitcast<${C}>(${u.at('step')}));
}`;
  for (const r of flatRuns('arange', t, n)) {
    const range = C === 'f32' ? { start: f32Bits(start), step: f32Bits(stepArg) } : { start, step: stepArg };
    engine().dispatch({
      label: 'arange',
      key: `arange|${T}`,
      code,
      buffers: [r.resource],
      uniforms: u.pack({ n: r.n, ...range, outOff: r.offset, first: r.first }),
      workgroups: ceilDiv(r.n, 256),
    });
  }
  return t;
}

function randomKernel(op: string, shape: Shape, body: string, gen: Generator, a: number, b: number, dtype: DType): Tensor {
  checkShape(op, shape);
  if (dtype !== 'f32' && dtype !== 'f16') throw new TensorError(op, `needs a float dtype, got ${dtype}`);
  const t = Tensor.empty(shape, dtype, op);
  const n = numel(shape);
  const { k0, k1, stream } = gen.next();
  if (n === 0) return t;
  const u = new UniformLayout().field('n').field('k0').field('k1').field('stream').field('a').field('b').field('outOff').field('first');
  const code = () => `${THREEFRY_WGSL}
@group(0) @binding(0) var<storage, read_write> out: array<${dtype}>;
${u.declare(1)}
${perElementMain(256, u)}
  // The same f32 draw for every dtype: f16 is that draw rounded. The counter is the element's flat index.
  let bits = threefry2x32(${u.at('k0')}, ${u.at('k1')}, ${u.at('first')} + gidx, ${u.at('stream')});
  let a = bitcast<f32>(${u.at('a')});
  let b = bitcast<f32>(${u.at('b')});
  ${body}
  out[${u.at('outOff')} + gidx] = ${dtype}(v);
}`;
  for (const r of flatRuns(op, t, n)) {
    engine().dispatch({
      label: op,
      // Each op passes its own body (rand, randn, ...): the op names it.
      key: `random|${op}|${dtype}`,
      code,
      buffers: [r.resource],
      uniforms: u.pack({ n: r.n, k0, k1, stream, a: f32Bits(a), b: f32Bits(b), outOff: r.offset, first: r.first }),
      workgroups: ceilDiv(r.n, 256),
    });
  }
  return t;
}

/** Uniform on [low, high) from the seeded counter-based generator. */
export function rand(shape: Shape, low = 0, high = 1, gen: Generator = defaultGenerator, dtype: DType = 'f32'): Tensor {
  return randomKernel('rand', shape, 'let v = a + (b - a) * bits_to_unit(bits.x);', gen, low, high, dtype);
}

/** Normal(mean, std) by Box-Muller on the two words of one Threefry block. */
export function randn(shape: Shape, mean = 0, std = 1, gen: Generator = defaultGenerator, dtype: DType = 'f32'): Tensor {
  return randomKernel(
    'randn',
    shape,
    `let u1 = (f32(bits.x >> 8u) + 1.0) * 5.9604644775390625e-8;
  let u2 = bits_to_unit(bits.y);
  let v = a + b * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);`,
    gen,
    mean,
    std,
    dtype,
  );
}
