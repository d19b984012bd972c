// The bind-group cache on its own, with a stand-in device: which bindings share a group, and the generations.
import { describe, expect, test } from 'vitest';
import { BindGroupCache } from '../src/runtime/bind-groups.ts';
import type { SharedLayout } from '../src/runtime/kernel-layout.ts';

function fakeDevice() {
  let made = 0;
  return { device: { createBindGroup: (d: GPUBindGroupDescriptor) => ({ made: made++, d }) } as unknown as GPUDevice, made: () => made };
}
const layout = (id: number) => ({ id, layout: {} as GPUBindGroupLayout, storage: 2, uniform: true }) as SharedLayout;
const buffer = (size: number) => ({ size }) as GPUBuffer;

/** find, and create on a miss: what the engine does per dispatch. */
function get(c: BindGroupCache, l: SharedLayout, buffers: Parameters<BindGroupCache['find']>[1], uBytes = 16): GPUBindGroup {
  return c.find(l, buffers, uBytes) ?? c.create(l, buffers, null, uBytes);
}

describe('BindGroupCache', () => {
  test('the same layout, uniform size, buffers and windows find one group; any difference makes another', () => {
    const { device, made } = fakeDevice();
    const c = new BindGroupCache(device);
    const [a, b] = [buffer(1024), buffer(1024)];
    const g = get(c, layout(0), [a, b]);
    expect(get(c, layout(0), [a, b])).toBe(g);
    expect(get(c, layout(0), [a, { buffer: b, offset: 0 }]), 'a window of all of b binds what b does').toBe(g);
    const others = [
      get(c, layout(1), [a, b]),
      get(c, layout(0), [a, b], 32),
      get(c, layout(0), [b, a]),
      get(c, layout(0), [a, { buffer: b, offset: 256 }]),
      get(c, layout(0), [a, { buffer: b, offset: 256, size: 512 }]),
      get(c, layout(0), [a, { buffer: b, offset: 0, size: 512 }]),
      get(c, layout(0), [a, buffer(1024)]),
    ];
    expect(new Set([g, ...others]).size).toBe(8);
    expect(made()).toBe(8);
    expect(c.stats()).toEqual({ bindGroupHits: 2, bindGroupMisses: 8, bindGroups: 8 });
    // Each of them is found again.
    expect(get(c, layout(0), [a, { buffer: b, offset: 256, size: 512 }])).toBe(others[4]);
    expect(made()).toBe(8);
  });

  test('past the limit the young generation becomes the old one; a hit there comes back, the rest go at the next turn', () => {
    const { device, made } = fakeDevice();
    const c = new BindGroupCache(device, 2);
    const bufs = [buffer(256), buffer(256), buffer(256), buffer(256)];
    const groups = bufs.map((x) => get(c, layout(0), [x]));
    expect(made()).toBe(4);
    // Young holds bufs 2-3, old holds 0-1. Finding 0 moves it to young, which turns over: young {0}, old {2, 3}.
    expect(get(c, layout(0), [bufs[0]])).toBe(groups[0]);
    expect(get(c, layout(0), [bufs[3]])).toBe(groups[3]);
    expect(made()).toBe(4);
    // bufs[1] stayed in the generation that was dropped.
    expect(get(c, layout(0), [bufs[1]])).not.toBe(groups[1]);
    expect(made()).toBe(5);
  });

  test('clear forgets every group', () => {
    const { device, made } = fakeDevice();
    const c = new BindGroupCache(device);
    const a = buffer(256);
    const g = get(c, layout(0), [a]);
    c.clear();
    expect(c.stats().bindGroups).toBe(0);
    expect(get(c, layout(0), [a])).not.toBe(g);
    expect(made()).toBe(2);
  });
});
