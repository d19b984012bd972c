import { beforeAll, describe, expect, test } from 'vitest';
import * as T from '../src/index.ts';

beforeAll(async () => {
  await T.init();
});

const COPY = (n: number) => `@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read_write> b: array<f32>;
struct U { v: array<vec4<u32>, 1> };
@group(0) @binding(2) var<uniform> u: U;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  if (gid.x < u.v[0].x) { b[gid.x] = a[gid.x] * ${n}.0; }
}`;

function run(key: string | undefined, code: string | (() => string), a: T.Tensor, out: T.Tensor): void {
  T.engine().dispatch({ label: 'host-loop-test', key, code, buffers: [a.buffer, out.buffer], uniforms: new Uint32Array([a.size, 0, 0, 0]), workgroups: Math.ceil(a.size / 64) });
}

describe('host loop', () => {
  test('bind groups are reused for the same buffers, and dropped when the pool destroys buffers', async () => {
    const e = T.engine();
    const a = T.tensor([1, 2, 3]);
    const out = T.zeros([3]);
    run('host-loop|x2', COPY(2), a, out);
    const s0 = e.stats();
    run('host-loop|x2', COPY(2), a, out);
    const s1 = e.stats();
    expect(s1.bindGroupHits - s0.bindGroupHits).toBe(1);
    expect(s1.bindGroupMisses).toBe(s0.bindGroupMisses);
    e.pool.trim();
    expect(e.stats().bindGroups).toBe(0);
    run('host-loop|x2', COPY(2), a, out);
    expect(Array.from(await out.data())).toEqual([2, 4, 6]);
    a.dispose();
    out.dispose();
  });

  test('a binding past a lowered limit is refused even where its bind group was made before', () => {
    const e = T.engine();
    const a = T.zeros([2048]); // 8 KiB
    const out = T.zeros([2048]);
    run('host-loop|x3', COPY(3), a, out);
    e.setBindingLimit(4096);
    try {
      expect(() => run('host-loop|x3', COPY(3), a, out)).toThrow(/binds 8192 bytes, more than the binding limit \(4096\)/);
    } finally {
      e.setBindingLimit(null);
    }
    run('host-loop|x3', COPY(3), a, out);
    a.dispose();
    out.dispose();
  });

  test('a key reads the code only on a miss, and a key naming two programs is refused', async () => {
    const a = T.tensor([1, 2]);
    const out = T.zeros([2]);
    let built = 0;
    const lazy = () => (built++, COPY(3));
    run('host-loop|x3', lazy, a, out);
    const e = T.engine();
    const check = e.checkKernelKeys;
    e.checkKernelKeys = false;
    run('host-loop|x3', lazy, a, out);
    expect(built).toBe(1);
    e.checkKernelKeys = true;
    expect(() => run('host-loop|x3', COPY(4), a, out)).toThrow(/names two different programs/);
    e.checkKernelKeys = check;
    expect(Array.from(await out.data())).toEqual([3, 6]);
    a.dispose();
    out.dispose();
  });

  test('warmup compiles recorded programs; a stale keyed record is replaced by the current code at first use', async () => {
    const e = T.engine();
    const r = await e.warmup([
      { key: 'host-loop|stale', label: 'stale', code: COPY(5) },
      { label: 'plain', code: COPY(6) },
      { label: 'broken', code: 'fn main( {' },
    ]);
    expect(r).toMatchObject({ compiled: 2, failed: 1 });
    const before = e.stats().pipelines;
    const a = T.tensor([1, 2]);
    const out = T.zeros([2]);
    run('host-loop|stale', COPY(7), a, out);
    expect(Array.from(await out.data())).toEqual([7, 14]);
    run(undefined, COPY(6), a, out);
    expect(Array.from(await out.data())).toEqual([6, 12]);
    expect(e.stats().pipelines).toBe(before);
    expect(e.programs().some((p) => p.key === 'host-loop|stale' && p.code === COPY(7))).toBe(true);
    a.dispose();
    out.dispose();
  });

  test('every op family finds its kernel by key: no WGSL built or hashed per launch', async () => {
    const e = T.engine();
    const keyless = new Set<string>();
    const dispatch = e.dispatch.bind(e);
    e.dispatch = (d) => {
      if (d.key === undefined) keyless.add(d.label);
      dispatch(d);
    };
    try {
      T.manualSeed(0);
      const x = T.randn([2, 3, 9, 7]).requiresGrad_();
      const w = T.rand([4, 3, 3, 3], -0.5, 0.5).requiresGrad_();
      const conv = T.conv2d(x, w, null, { padding: 1 });
      const pooled = T.add(T.maxPool2d(conv, { kernelSize: 2 }), T.avgPool2d(conv, { kernelSize: 2 }));
      const up = T.interpolate(pooled, { size: [9, 7], mode: 'bilinear', alignCorners: false });
      const padded = T.pad(up, [1, 1, 0, 0], 'replicate');
      const rows = T.reshape(T.dropout(padded, 0.1), [-1, 9]);
      const normed = T.layerNorm(T.normalize(rows, { dim: 1 }), 9);
      const q = T.reshape(T.narrow(normed, 0, 0, 48), [1, 2, 24, 9]);
      const att = T.attention(q, q, q);
      const logits = T.reshape(T.softmax(T.reshape(att, [48, 9]), 1), [48, 9]);
      const target = T.argmax(logits, 1);
      const ce = T.crossEntropy(logits, target);
      const picked = T.gather(logits, 1, T.reshape(target, [48, 1]));
      const hot = T.oneHot(target, 9, 'f32');
      const total = T.add(T.add(ce, T.mean(picked)), T.sum(T.mul(hot, logits)));
      total.backward();
      await x.grad!.data();
    } finally {
      e.dispatch = dispatch;
    }
    expect([...keyless].sort()).toEqual([]);
  });

  test('host CPU clock: one span per dispatch, a submit inside a dispatch counted once, one outside counted', async () => {
    const e = T.engine();
    const a = T.tensor([1, 2, 3]);
    const out = T.zeros([3]);
    run('host-loop|x2', COPY(2), a, out);
    e.flush();
    // A fake clock that advances 1 ms per read: each counted span adds exactly 1.
    let reads = 0;
    e.hostCpuClock = () => reads++;
    try {
      const s0 = e.stats();
      // More dispatches than go into one submit (32 by default): some flushes happen inside dispatch().
      for (let i = 0; i < 70; i++) run('host-loop|x2', COPY(2), a, out);
      const s1 = e.stats();
      expect(s1.submits - s0.submits).toBeGreaterThan(0);
      expect(s1.encodeCpuMs - s0.encodeCpuMs).toBe(70);
      e.flush();
      expect(e.stats().encodeCpuMs - s1.encodeCpuMs).toBe(1);
      e.flush(); // nothing encoded: no span
      expect(e.stats().encodeCpuMs - s1.encodeCpuMs).toBe(1);
      // The wall counter spans the same calls: submits are a part of it, not added on top.
      const s2 = e.stats();
      expect(s2.submitMs - s0.submitMs).toBeLessThanOrEqual(s2.encodeMs - s0.encodeMs);
    } finally {
      e.hostCpuClock = null;
    }
    expect(Array.from(await out.data())).toEqual([2, 4, 6]);
    a.dispose();
    out.dispose();
  });
});
