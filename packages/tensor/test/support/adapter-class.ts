import * as T from '../../src/index.ts';

/**
 * Runs `run` with the CPU-class kernels, then with the GPU-class ones (forced on whatever adapter runs the
 * tests), and returns both results: the two kernel families must agree.
 */
export async function underBothClasses(run: () => T.Tensor | T.Tensor[]): Promise<{ cpu: Float32Array[]; gpu: Float32Array[] }> {
  const e = T.engine();
  const read = async (ts: T.Tensor | T.Tensor[]) => {
    const list = Array.isArray(ts) ? ts : [ts];
    const out = await Promise.all(list.map(async (t) => Float32Array.from(await t.data())));
    list.forEach((t) => t.dispose());
    return out;
  };
  try {
    e.setAdapterClass('cpu');
    const cpu = await read(run());
    e.setAdapterClass('gpu');
    const gpu = await read(run());
    return { cpu, gpu };
  } finally {
    e.setAdapterClass(null);
  }
}
