import { record } from '../autograd/graph.ts';
import { shapeError, TensorError } from '../errors.ts';
import { bindView, type ViewLike } from '../kernels/binding.ts';
import { indexSlices } from '../kernels/slices.ts';
import { ceilDiv, f32Bits, perElementMain, stridedOffset, UniformLayout } from '../kernels/uniforms.ts';
import { defaultGenerator, type Generator, THREEFRY_WGSL } from '../random.ts';
import { engine } from '../runtime/engine.ts';
import { numel } from '../shape.ts';
import { assertTensor, Tensor } from '../tensor.ts';
import { zeros } from './creation.ts';

/** One draw of the counter-based generator: the mask is a pure function of it and the element index. */
interface MaskKey {
  k0: number;
  k1: number;
  stream: number;
  p: number;
}

const WG = 256;

/**
 * out[i] = keep(i) ? in[i] / (1 − p) : 0 with keep(i) = unit(threefry(key, i)) ≥ p, i the row-major index.
 * The same function serves forward and backward, so the mask is never stored.
 */
function applyMask(op: string, x: Tensor, key: MaskKey): Tensor {
  const out = Tensor.empty(x.shape, 'f32', op);
  const n = numel(x.shape);
  if (n === 0) return out;
  // Runs of the index space that fit a binding; the counter is each element's flat index over the whole of x.
  for (const { views: [xs, os], first } of indexSlices(op, x.shape, [x, out])) maskKernel(op, xs, os, key, first);
  return out;
}

function maskKernel(op: string, x: ViewLike, out: ViewLike, key: MaskKey, first: number): void {
  const rank = Math.max(x.shape.length, 1);
  const n = numel(x.shape);
  const bx = bindView(x, op);
  const bo = bindView(out, op);
  const u = new UniformLayout().field('n').field('k0').field('k1').field('stream').field('p').field('scale').field('shape', rank).field('str', rank).field('off');
  u.field('outOff').field('first');
  const code = () => `${THREEFRY_WGSL}
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
${u.declare(2)}
${perElementMain(WG, u)}
  let o = ${u.at('outOff')} + gidx;
  let bits = threefry2x32(${u.at('k0')}, ${u.at('k1')}, ${u.at('first')} + gidx, ${u.at('stream')});
  if (bits_to_unit(bits.x) < bitcast<f32>(${u.at('p')})) { out[o] = 0.0; return; }
  ${stridedOffset(u, 'xo', 'gidx', x.shape.length, 'shape', 'str', 'off')}
  out[o] = x[xo] * bitcast<f32>(${u.at('scale')});
}`;
  engine().dispatch({
    label: op,
    key: `dropout_mask|${x.shape.length}`,
    code,
    buffers: [bx.resource, bo.resource],
    uniforms: u.pack({
      n,
      k0: key.k0,
      k1: key.k1,
      stream: key.stream,
      p: f32Bits(key.p),
      scale: f32Bits(1 / (1 - key.p)),
      shape: x.shape.length ? [...x.shape] : [1],
      str: x.shape.length ? [...x.strides] : [1],
      off: bx.offset,
      outOff: bo.offset,
      first,
    }),
    workgroups: ceilDiv(n, WG),
  });
}

/** Masking with the same key is linear and self-adjoint: its backward is itself, to any order. */
function masked(op: string, x: Tensor, key: MaskKey): Tensor {
  const y = applyMask(op, x, key);
  record(op, [x], [y], ([g]) => [masked('dropout_backward', g!, key)]);
  return y;
}

/**
 * Inverted dropout: in training, zeroes each element with probability p and scales the rest by 1/(1−p), drawing
 * from the seeded counter-based generator (one draw per call, so results repeat for a given seed). In eval it
 * is the identity (a new handle on the same storage).
 */
export function dropout(x: Tensor, p = 0.5, training = true, gen: Generator = defaultGenerator): Tensor {
  const op = 'dropout';
  assertTensor(op, x);
  if (!(p >= 0 && p <= 1)) throw new TensorError(op, `p must be in [0, 1], got ${p}`);
  if (x.dtype !== 'f32') throw shapeError(op, `needs f32, got ${x.dtype}`, x.shape);
  if (!training || p === 0) {
    const y = x.view(x.shape, x.strides, x.offset, op);
    record(op, [x], [y], ([g]) => [g]);
    return y;
  }
  if (p === 1) {
    const y = zeros(x.shape);
    record(op, [x], [y], ([g]) => [zeros(g!.shape)]);
    return y;
  }
  const { k0, k1, stream } = gen.next();
  return masked(op, x, { k0, k1, stream, p });
}
