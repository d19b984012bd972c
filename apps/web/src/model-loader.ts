// A checkpoint from a File or fetched Blob into a SegModel through the shared inference; every failure names the
// file (not a checkpoint, another model's weights, a config that does not fit the tensors).
import { openSegModel, type OpenedModel } from '@seco/models';

export async function openCheckpoint(source: Blob, name: string, numHeads?: number): Promise<OpenedModel> {
  if (source.size === 0) throw new Error(`${name}: the file is empty`);
  try {
    return await openSegModel(source, { name, numHeads });
  } catch (e) {
    const msg = (e as Error).message;
    throw new Error(msg.includes(name) ? `${msg}` : `${name}: ${msg}`, { cause: e });
  }
}
