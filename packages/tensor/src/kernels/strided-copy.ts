import { engine } from '../runtime/engine.ts';
import { bindView, type ViewLike } from './binding.ts';
import { memoKernel } from './memo.ts';
import { ceilDiv, ENTRY_ARGS, linearId, stridedOffset, UniformLayout } from './uniforms.ts';

/** The copy kernel of one (source dtype, destination dtype, rank): shapes and strides travel in uniforms. */
function copyProgram(srcType: string, dstType: string, rank: number) {
  return memoKernel(`strided_copy|${srcType}|${dstType}|${rank}`, () => {
    const r = Math.max(rank, 1);
    const u = new UniformLayout().field('numel').field('shape', r).field('dstStr', r).field('dstOff').field('srcStr', r).field('srcOff');
    const code = `
@group(0) @binding(0) var<storage, read> src: array<${srcType}>;
@group(0) @binding(1) var<storage, read_write> dst: array<${dstType}>;
${u.declare(2)}
@compute @workgroup_size(256)
fn main(${ENTRY_ARGS}) {
  ${linearId(256)}
  if (gidx >= ${u.at('numel')}) { return; }
  ${stridedOffset(u, 'od', 'gidx', rank, 'shape', 'dstStr', 'dstOff')}
  ${stridedOffset(u, 'os', 'gidx', rank, 'shape', 'srcStr', 'srcOff')}
  dst[od] = ${dstType}(src[os]);
}`;
    return { key: `strided_copy|${srcType}|${dstType}|${rank}`, code, layout: u };
  });
}

/** One dispatch: dst view = src view (same shape; each bound whole or as the window it spans). */
export function copyKernel(src: ViewLike, dst: ViewLike, label = 'writeStrided'): void {
  const shape = src.shape;
  const bs = bindView(src, label);
  const bd = bindView(dst, label);
  const k = copyProgram(src.dtype, dst.dtype, shape.length);
  const n = shape.reduce((a, b) => a * b, 1);
  engine().dispatch({
    label,
    key: k.key,
    code: k.code,
    buffers: [bs.resource, bd.resource],
    uniforms: k.layout.pack({ numel: n, shape: [...shape], dstStr: [...dst.strides], dstOff: bd.offset, srcStr: [...src.strides], srcOff: bs.offset }),
    workgroups: ceilDiv(n, 256),
  });
}
