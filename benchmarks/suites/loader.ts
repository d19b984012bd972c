// Loader throughput with SeCo's full augmentation (448 crop, local view, second global view) on the real VOC
// sample images, CPU only. One batch = 4 images (SeCo's images per GPU).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLoader, decodeImage, openVoc } from '@seco/data';
import { sharedDataDir } from '../shared-data.ts';
import { round } from '../timing.ts';
import type { BenchCase } from '../types.ts';

const shared = sharedDataDir();
const root = join(shared, 'voc-sample', 'VOC2012');
const ADAPTER = 'cpu (no GPU)';
const BATCH = 4;

function dataset() {
  return openVoc({
    root,
    list: join(shared, 'voc-sample', 'lists', 'train.txt'),
    labels: { npy: join(shared, 'voc-full-labels', 'cls_labels_onehot.npy') },
    masks: false,
  });
}

async function loaderCase(workers: number, batches: number): Promise<BenchCase> {
  const loader = createLoader({ dataset: dataset(), batchSize: BATCH, seed: 0, workers, prefetch: 2 * Math.max(1, workers) + 1 });
  try {
    for (let i = 0; i < 2; i++) await loader.next(); // worker start-up and JIT warm-up
    const t0 = performance.now();
    for (let i = 0; i < batches; i++) await loader.next();
    const ms = (performance.now() - t0) / batches;
    return {
      name: `SeCo train batches, ${workers ? `${workers} worker${workers > 1 ? 's' : ''}` : 'calling thread'}`,
      shape: `${BATCH}x3x448x448 x3 views`,
      ms: round(ms),
      gflops: null,
      peer_ms: null,
      ratio: null,
      adapter: ADAPTER,
      throughput: round((1000 * BATCH) / ms, 1),
      unit: 'images/s',
      notes: `VOC sample JPEGs (~500x375), decode + scale/flip/crop + local view + RandomResizedCrop view + normalise; ${batches} batches after 2 warm-up`,
    };
  } finally {
    await loader.close();
  }
}

async function decodeCase(): Promise<BenchCase> {
  const ds = dataset();
  const bytes = ds.ids.map((_, i) => readFileSync(ds.sample(i).image));
  for (const b of bytes.slice(0, 4)) await decodeImage(b, 'warm-up');
  const t0 = performance.now();
  for (let r = 0; r < 2; r++) for (const b of bytes) await decodeImage(b, 'bench');
  const ms = (performance.now() - t0) / (2 * bytes.length);
  return {
    name: 'JPEG decode (sharp), calling thread',
    shape: 'VOC sample, ~500x375',
    ms: round(ms),
    gflops: null,
    peer_ms: null,
    ratio: null,
    adapter: ADAPTER,
    throughput: round(1000 / ms, 1),
    unit: 'images/s',
  };
}

export default async function run(): Promise<BenchCase[]> {
  return [await decodeCase(), await loaderCase(0, 12), await loaderCase(1, 15), await loaderCase(2, 30)];
}
