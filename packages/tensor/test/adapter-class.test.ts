import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import * as T from '../src/index.ts';
import { randomTensor } from './support/binding-limit.ts';
import { underBothClasses } from './support/adapter-class.ts';

beforeAll(async () => {
  await T.init();
});

afterEach(() => T.engine().setAdapterClass(null));

describe('adapter classes', () => {
  test('CPU rasterizers are told from GPUs by their names or the fallback flag', () => {
    for (const name of ['mesa llvmpipe LLVM 19.1.7, 256 bits', 'Google SwiftShader', 'Microsoft Basic Render Driver', 'lavapipe']) {
      expect(T.detectAdapterClass(name), name).toBe('cpu');
    }
    for (const name of ['nvidia hopper NVIDIA H200', 'apple metal-3 Apple M2', 'amd rdna-3 AMD Radeon RX 7900 XTX', 'intel gen-12lp Intel(R) UHD Graphics 770']) {
      expect(T.detectAdapterClass(name), name).toBe('gpu');
    }
    expect(T.detectAdapterClass('some adapter', true)).toBe('cpu');
  });

  test('the class can be forced and given back to detection', () => {
    const e = T.engine();
    e.setAdapterClass('gpu');
    expect(e.adapterClass).toBe('gpu');
    expect(e.isCpu).toBe(false);
    e.setAdapterClass('cpu');
    expect(e.isCpu).toBe(true);
    e.setAdapterClass(null);
    expect(e.adapterClass).toBe(e.detectedClass);
  });

  test('row kernels and reductions give the same values under both classes', async () => {
    // 300 rows of 197: thread-per-row on a CPU adapter, a workgroup per row on a GPU.
    const x = randomTensor([300, 197], 11);
    const y = randomTensor([5000, 3], 12);
    const { cpu, gpu } = await underBothClasses(() => [T.softmax(x, -1), T.sum(y, 0), T.amax(x, 1)]);
    gpu.forEach((g, i) => {
      const c = cpu[i];
      let worst = 0;
      for (let j = 0; j < c.length; j++) worst = Math.max(worst, Math.abs(g[j] - c[j]) / (1 + Math.abs(c[j])));
      expect(worst, `output ${i}`).toBeLessThan(1e-5);
    });
  });
});
