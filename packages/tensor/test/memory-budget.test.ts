// The engine's memory budget and the GpuMemoryError: a budget or buffer limit refused before any GPU call, with
// the op, shape, bytes and largest live tensors named; cached buffers freed before failing; Dawn's out-of-memory
// reported as the same error; the engine still working afterwards.
import { totalmem } from 'node:os';
import { afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import * as T from '../src/index.ts';
import { defaultMemoryBudget, reportedDeviceMemory, resolveMemoryBudget } from '../src/runtime/memory-budget.ts';
import { BufferPool } from '../src/runtime/pool.ts';

beforeAll(async () => {
  await T.init();
});

afterEach(() => {
  T.engine().setMemoryBudget(null);
  vi.restoreAllMocks();
});

const MiB = 1 << 20;
const caught = (f: () => unknown): T.GpuMemoryError => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(T.GpuMemoryError);
    return e as T.GpuMemoryError;
  }
  throw new Error('expected a GpuMemoryError');
};

describe('memory budget', () => {
  test('an allocation past the budget names the op, shape, bytes, budget and the largest live tensors', async () => {
    const e = T.engine();
    const held = T.randn([512, 512]); // 1 MiB, live while the next one fails
    e.setMemoryBudget(e.stats().liveBytes + 2 * MiB);
    const err = caught(() => T.zeros([1024, 1024]));
    expect(err.kind).toBe('budget');
    expect(err.bytesAsked).toBe(4 * MiB);
    expect(err.limitBytes).toBe(e.memoryBudgetBytes);
    expect(err.availableBytes).toBe(e.memoryBudgetBytes - e.stats().liveBytes);
    expect(err.largest[0]).toMatchObject({ op: held.op, shape: [512, 512], dtype: 'f32', bytes: MiB });
    expect(err.message).toMatch(
      new RegExp(
        `^full: out of GPU memory: a tensor of shape \\[1024, 1024\\] \\(f32\\) needs ${4 * MiB} bytes \\(4\\.00 MiB\\); ` +
          `\\d+ bytes .* is held by live tensors and the budget is ${e.memoryBudgetBytes} bytes .*\\(from setMemoryBudget\\), \\d+ bytes .*available\\. ` +
          `Largest live tensors: ${held.op} \\[512, 512\\] f32 1\\.00 MiB`,
      ),
    );
    held.dispose();
  });

  test('cached buffers are freed before an allocation fails', async () => {
    const e = T.engine();
    e.pool.trim();
    e.setMemoryBudget(e.stats().liveBytes + 6 * MiB);
    T.zeros([1024, 1024]).dispose(); // 4 MiB back in the pool, still held
    expect(e.stats().pooledBytes).toBeGreaterThanOrEqual(4 * MiB);
    const b = T.full([5, 256, 1024], 2); // 5 MiB: fits once the cached 4 MiB go
    expect(e.stats().pooledBytes).toBe(0);
    expect((await b.sum().data())[0]).toBe(2 * 5 * 256 * 1024);
    b.dispose();
  });

  test('lowering the budget below what the pool caches frees the cache at once', () => {
    const e = T.engine();
    T.zeros([1024, 1024]).dispose();
    expect(e.stats().pooledBytes).toBeGreaterThanOrEqual(4 * MiB);
    e.setMemoryBudget(e.stats().liveBytes + MiB);
    expect(e.stats().pooledBytes).toBe(0);
  });

  test("a tensor over the device's largest buffer is refused before any GPU call, naming the limit", async () => {
    const e = T.engine();
    const create = vi.spyOn(e.device, 'createBuffer');
    const created = e.stats().created;
    const n = Math.floor(e.maxBufferBytes / 4) + 1;
    const err = caught(() => T.zeros([2, n]));
    expect(err.kind).toBe('buffer-limit');
    expect(err.message).toContain(`full: tensor of shape [2, ${n}] (f32) needs ${8 * n} bytes, more than the device's largest buffer (${e.maxBufferBytes} bytes)`);
    expect(create).not.toHaveBeenCalled();
    expect(e.stats().created).toBe(created);
    await e.sync(); // no GPU error was left behind
  });

  test('the engine keeps working after a memory error', async () => {
    const e = T.engine();
    e.setMemoryBudget(e.stats().liveBytes + MiB);
    caught(() => T.zeros([1024, 1024]));
    const x = T.tensor([1, 2, 3]);
    const y = x.add(x);
    expect([...(await y.data())]).toEqual([2, 4, 6]);
    x.dispose();
    y.dispose();
  });

  test("Dawn's out-of-memory event becomes a GpuMemoryError at the next sync, never the raw message", async () => {
    const e = T.engine();
    const g = globalThis as unknown as {
      GPUOutOfMemoryError: new (m: string) => GPUError;
      GPUUncapturedErrorEvent: new (type: string, init: { error: GPUError }) => Event;
    };
    e.device.dispatchEvent(new g.GPUUncapturedErrorEvent('uncapturederror', { error: new g.GPUOutOfMemoryError('Out of memory (simulated)') }));
    const err = await e.sync().then(
      () => null,
      (x: unknown) => x,
    );
    expect(err).toBeInstanceOf(T.GpuMemoryError);
    expect((err as T.GpuMemoryError).kind).toBe('device');
    expect((err as Error).message).toMatch(/the device ran out of memory \(Dawn: Out of memory \(simulated\)\); \d+ bytes .*is held by live tensors/);
    expect((err as Error).message).not.toMatch(/^GPU error after op/);
    await e.sync();
  });

  test('an allocation Dawn failed outranks the validation errors its invalid buffer caused', async () => {
    const e = T.engine();
    const g = globalThis as unknown as {
      GPUValidationError: new (m: string) => GPUError;
      GPUUncapturedErrorEvent: new (type: string, init: { error: GPUError }) => Event;
    };
    e.device.dispatchEvent(new g.GPUUncapturedErrorEvent('uncapturederror', { error: new g.GPUValidationError('Buffer is invalid (simulated)') }));
    e.pool.onDeviceOutOfMemory?.(e.pool.memoryError('device', { op: 'matmul', shape: [4096, 4096], dtype: 'f32' }, 64 * MiB, 'Out of memory (simulated)'));
    const err = await e.sync().then(
      () => null,
      (x: unknown) => x,
    );
    expect(err).toBeInstanceOf(T.GpuMemoryError);
    expect((err as Error).message).toMatch(/^matmul: the device ran out of memory creating a tensor of shape \[4096, 4096\] \(f32\) of 67108864 bytes/);
    await e.sync();
  });
});

/** A device that records error scopes and reports out-of-memory for the buffers `oom` says. */
function fakeDevice(oom: (size: number) => boolean) {
  const calls = { push: 0, created: 0, destroyed: 0 };
  let pending: string | null = null;
  const device = {
    createBuffer: ({ size }: { size: number }) => {
      calls.created++;
      if (oom(size)) pending = `Out of memory creating a buffer of ${size} bytes`;
      return { size, destroy: () => calls.destroyed++ };
    },
    pushErrorScope: () => {
      calls.push++;
      pending = null;
    },
    popErrorScope: () => Promise.resolve(pending === null ? null : { message: pending }),
  };
  return { device: device as unknown as GPUDevice, calls };
}

describe('buffer pool out of memory', () => {
  test('one error scope per new buffer, none per reuse; a failed buffer is reported with its op and shape, then never reused', async () => {
    const { device, calls } = fakeDevice((size) => size >= 4 * MiB);
    const pool = new BufferPool(device, 0x80);
    const reported: T.GpuMemoryError[] = [];
    pool.onDeviceOutOfMemory = (e) => reported.push(e);
    const small = pool.acquire(1000, { op: 'small' });
    pool.release(small);
    expect(pool.acquire(1000, { op: 'small' })).toBe(small);
    expect(calls.push).toBe(1);
    const big = pool.acquire(4 * MiB, { op: 'matmul', shape: [1024, 1024], dtype: 'f32' });
    await Promise.resolve();
    expect(reported).toHaveLength(1);
    expect(reported[0].kind).toBe('device');
    expect(reported[0].message).toMatch(/^matmul: the device ran out of memory creating a tensor of shape \[1024, 1024\] \(f32\) of 4194304 bytes \(4\.00 MiB\) \(Dawn: Out of memory creating a buffer of 4194304 bytes\)/);
    pool.release(big);
    expect(calls.destroyed).toBe(1);
    expect(pool.stats()).toMatchObject({ liveBuffers: 1, pooledBuffers: 0 });
    expect(pool.acquire(4 * MiB)).not.toBe(big);
  });

  test('a buffer released before its error scope answered leaves the cache when the answer is out-of-memory', async () => {
    const { device, calls } = fakeDevice((size) => size >= 4 * MiB);
    const pool = new BufferPool(device, 0x80);
    pool.onDeviceOutOfMemory = () => {};
    const big = pool.acquire(4 * MiB, { op: 'conv2d' });
    pool.release(big);
    expect(pool.stats().pooledBuffers).toBe(1);
    await Promise.resolve();
    expect(pool.stats()).toMatchObject({ pooledBuffers: 0, pooledBytes: 0 });
    expect(calls.destroyed).toBe(1);
    expect(pool.acquire(4 * MiB)).not.toBe(big);
  });
});

describe('budget sources', () => {
  test('SECO_MEMORY_BUDGET is parsed; the option wins over it; the device heaps are the default', () => {
    const saved = process.env.SECO_MEMORY_BUDGET;
    try {
      const heaps = defaultMemoryBudget(123456, false, null);
      process.env.SECO_MEMORY_BUDGET = '8GiB';
      expect(resolveMemoryBudget(undefined, heaps)).toEqual({ bytes: 8 * 1024 ** 3, source: 'SECO_MEMORY_BUDGET' });
      expect(resolveMemoryBudget(1000, heaps).bytes).toBe(1000);
      process.env.SECO_MEMORY_BUDGET = 'lots';
      expect(() => resolveMemoryBudget(undefined)).toThrow(/SECO_MEMORY_BUDGET: not a byte size: 'lots'/);
      delete process.env.SECO_MEMORY_BUDGET;
      expect(resolveMemoryBudget(undefined, heaps)).toEqual({ bytes: 123456, source: "the device's memory heaps" });
      expect(resolveMemoryBudget(undefined)).toEqual({ bytes: Infinity, source: 'unlimited' });
    } finally {
      if (saved === undefined) delete process.env.SECO_MEMORY_BUDGET;
      else process.env.SECO_MEMORY_BUDGET = saved;
    }
  });

  test("a CPU adapter's default is 75% of host memory; a GPU's without heaps stays unlimited; heaps win", () => {
    const host = 24 * 1024 ** 3;
    expect(defaultMemoryBudget(null, true, host)).toEqual({ bytes: 18 * 1024 ** 3, source: "75% of host memory (a CPU adapter's buffers are host memory)" });
    expect(defaultMemoryBudget(null, false, host)).toEqual({ bytes: Infinity, source: 'unlimited' });
    expect(defaultMemoryBudget(8e9, true, host).bytes).toBe(8e9);
    expect(defaultMemoryBudget(null, true, null).bytes).toBe(Infinity); // a browser: the host's RAM is unknown
    // This engine: lavapipe and SwiftShader are CPU adapters and report no heaps, so unless the environment sets
    // a budget they get the host share; setMemoryBudget(null) returns to that default.
    const e = T.engine();
    if (process.env.SECO_MEMORY_BUDGET === undefined && e.deviceMemoryBytes === null) {
      const expected = e.detectedClass === 'cpu' ? Math.floor(0.75 * totalmem()) : Infinity;
      expect(e.memoryBudgetBytes).toBe(expected);
      e.setMemoryBudget(1024 ** 3);
      e.setMemoryBudget(null);
      expect(e.memoryBudgetBytes).toBe(expected);
    }
  });

  test('byte sizes: binary and decimal units, plain counts', () => {
    expect(T.parseByteSize('512MiB')).toBe(512 * MiB);
    expect(T.parseByteSize('1.5 GB')).toBe(1.5e9);
    expect(T.parseByteSize('8G')).toBe(8 * 1024 ** 3);
    expect(T.parseByteSize('1048576')).toBe(MiB);
    expect(() => T.parseByteSize('0')).toThrow(/positive/);
  });

  test('device-local memory heaps are summed; no heaps, no report', () => {
    expect(reportedDeviceMemory({ memoryHeaps: [{ size: 8e9, properties: 1 }, { size: 3e10, properties: 2 }] })).toBe(8e9);
    expect(reportedDeviceMemory({ vendor: 'mesa' })).toBeNull();
    expect(T.engine().deviceMemoryBytes).toBe(reportedDeviceMemory(T.engine().adapter?.info));
  });
});
