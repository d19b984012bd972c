import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import * as T from '../src/index.ts';
import { clearMatmulTuning, exportMatmulTuning } from '../src/kernels/matmul-tune.ts';
import { randomTensor } from './support/binding-limit.ts';

/**
 * Tuning on a workload's own shapes: the matmul and conv geometries of a forward and backward are recorded,
 * every new shape class gets timed tiles, and the workload then runs on them with the same results.
 */
beforeAll(async () => {
  await T.init();
});
afterEach(() => {
  clearMatmulTuning();
  T.engine().setAdapterClass(null);
});

function workload(): T.Tensor[] {
  const x = randomTensor([2, 3, 11, 9], 1).requiresGrad_();
  const w = randomTensor([5, 3, 3, 3], 2).requiresGrad_();
  const lw = randomTensor([7, 45], 3).requiresGrad_();
  const y = T.conv2d(x, w, null, { padding: 1 });
  const z = T.linear(T.reshape(y, [10, 99]).narrow(1, 0, 45), lw);
  T.sum(T.mul(z, z)).backward();
  return [z, x.grad!, w.grad!, lw.grad!];
}

for (const cls of ['cpu', 'gpu'] as const) {
  describe(`matmul autotuning on recorded shapes, ${cls} kernels`, () => {
    test('every recorded class gets tiles; the workload gives the same values on them', async () => {
      T.engine().setAdapterClass(cls);
      T.startMatmulRecording();
      const before = await Promise.all(workload().map(async (t) => Float32Array.from(await t.data())));
      const report = await T.tuneRecordedMatmuls(1);
      expect(report.classes.length).toBeGreaterThan(0);
      expect(Object.keys(exportMatmulTuning()).sort()).toEqual(report.classes.map((c) => c.shapeClass).sort());
      for (const c of report.classes) expect(c.bestMs).toBeLessThanOrEqual(c.worstMs);
      const after = await Promise.all(workload().map(async (t) => Float32Array.from(await t.data())));
      after.forEach((a, i) => {
        let worst = 0;
        for (let j = 0; j < a.length; j++) worst = Math.max(worst, Math.abs(a[j] - before[i][j]) / (1 + Math.abs(before[i][j])));
        expect(worst, `output ${i}`).toBeLessThan(1e-5);
      });
      // A second recording of the same workload finds every class tuned.
      T.startMatmulRecording();
      workload();
      const again = await T.tuneRecordedMatmuls(1);
      expect(again.classes).toEqual([]);
      expect(again.skipped).toBeGreaterThan(0);
    });
  });
}
