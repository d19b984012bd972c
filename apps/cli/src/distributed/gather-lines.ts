// One short text line from every rank, rank-major (for rank 0 to report what each rank has).
import type { Communicator } from './communicator.ts';
import { NativeBuffer } from './native-buffer.ts';

const WIDTH = 256;

export async function gatherLines(world: Communicator, line: string): Promise<string[]> {
  const send = new NativeBuffer('u8', WIDTH);
  const all = new NativeBuffer('u8', WIDTH * world.size);
  try {
    send.array.fill(0);
    send.array.set(Buffer.from(line, 'utf8').subarray(0, WIDTH));
    await world.allgather(send, all);
    return Array.from({ length: world.size }, (_, r) => Buffer.from(all.array.subarray(r * WIDTH, (r + 1) * WIDTH)).toString('utf8').replace(/\0+$/, ''));
  } finally {
    send.free();
    all.free();
  }
}
