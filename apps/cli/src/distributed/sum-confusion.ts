// The ranks' confusion matrices summed over MPI: counts are integers below 2^53 held in f64, so the sum is exact
// in any order, and the report equals one process's.
import { ConfusionMatrix } from '@seco/models';
import type { Communicator } from './communicator.ts';
import { NativeBuffer } from './native-buffer.ts';

export async function sumConfusion(world: Communicator, cm: ConfusionMatrix, images: number): Promise<{ cm: ConfusionMatrix; images: number }> {
  const buf = new NativeBuffer('f64', cm.hist.length + 1);
  try {
    buf.array.set(cm.hist);
    buf.array[cm.hist.length] = images;
    await world.allreduceSum(buf);
    const out = new ConfusionMatrix(cm.numClasses);
    out.hist.set(buf.array.subarray(0, cm.hist.length));
    return { cm: out, images: buf.array[cm.hist.length] };
  } finally {
    buf.free();
  }
}
