// Loader worker: fills batch slots in shared memory. worker_threads exist only in Node, so the Node decoder
// is imported directly here.
import { parentPort, workerData } from 'node:worker_threads';
import { decodeImage } from '../codecs/decode-node.ts';
import type { SampleRef } from '../datasets/types.ts';
import { DataError } from '../errors.ts';
import { type BatchArrays, fillSlot, type SampleSpec } from './sample.ts';

export interface TaskMessage {
  taskId: number;
  ref: SampleRef;
  seed: number;
  arrays: BatchArrays;
  slot: number;
}

export type ReplyMessage = { taskId: number; ok: true } | { taskId: number; ok: false; message: string; file: string };

const spec = (workerData as { spec: SampleSpec }).spec;
const port = parentPort!;

port.on('message', (t: TaskMessage) => {
  fillSlot(t.ref, t.seed, spec, t.arrays, t.slot, decodeImage).then(
    () => port.postMessage({ taskId: t.taskId, ok: true } satisfies ReplyMessage),
    (e: unknown) => {
      const file = e instanceof DataError ? e.file : t.ref.image;
      const message = e instanceof DataError ? e.message : `${file}: ${e instanceof Error ? e.message : String(e)}`;
      port.postMessage({ taskId: t.taskId, ok: false, message, file } satisfies ReplyMessage);
    },
  );
});
