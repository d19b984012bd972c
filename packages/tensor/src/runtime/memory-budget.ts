// The engine's memory budget: how many bytes of buffers the pool may hold. WebGPU does not say how much memory
// a device has, so the default is what the adapter reports where it does (Dawn's memory heaps); on a CPU adapter
// (lavapipe, SwiftShader), whose buffers are host memory, a share of the host's RAM; else unlimited.

export const MEMORY_BUDGET_ENV = 'SECO_MEMORY_BUDGET';

const UNITS: Record<string, number> = {
  '': 1, b: 1,
  k: 1024, kib: 1024, kb: 1e3,
  m: 1024 ** 2, mib: 1024 ** 2, mb: 1e6,
  g: 1024 ** 3, gib: 1024 ** 3, gb: 1e9,
  t: 1024 ** 4, tib: 1024 ** 4, tb: 1e12,
};

/** "8GiB", "512 MiB", "1.5GB", "8G" (binary) or a plain byte count. */
export function parseByteSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?(?:e\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = m ? UNITS[m[2].toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new Error(`not a byte size: '${text}' (e.g. 8GiB, 512MiB, 1.5GB or 1073741824)`);
  const bytes = Math.floor(Number(m[1]) * unit);
  if (!(bytes > 0)) throw new Error(`a byte size must be positive, got '${text}'`);
  return bytes;
}

/** The budget the environment asks for, or undefined. */
export function envMemoryBudget(): number | undefined {
  const v = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.[MEMORY_BUDGET_ENV];
  if (v === undefined || v === '') return undefined;
  try {
    return parseByteSize(v);
  } catch (e) {
    throw new Error(`${MEMORY_BUDGET_ENV}: ${(e as Error).message}`);
  }
}

/** Dawn's WGPUHeapProperty_DeviceLocal: memory on the device itself (all heaps of an integrated GPU have it). */
const DEVICE_LOCAL = 0x1;

/**
 * The device-local bytes an adapter's info reports, from Dawn's memory heaps (`memoryHeaps: {size, properties}[]`)
 * where a build exposes them; null where it does not (dawn.node 0.6.2 and browsers report nothing).
 */
export function reportedDeviceMemory(info: unknown): number | null {
  const heaps = (info as { memoryHeaps?: unknown } | null | undefined)?.memoryHeaps;
  if (!Array.isArray(heaps) || heaps.length === 0) return null;
  let total = 0;
  for (const h of heaps as { size?: unknown; properties?: unknown }[]) {
    const size = Number(h?.size);
    const props = typeof h?.properties === 'number' ? h.properties : DEVICE_LOCAL;
    if (Number.isFinite(size) && size > 0 && props & DEVICE_LOCAL) total += size;
  }
  return total > 0 ? total : null;
}

/** A budget and where it came from, for error messages. */
export interface MemoryBudget {
  bytes: number;
  source: string;
}

/** Share of the host's RAM a CPU adapter's buffers may take: the rest is the process's heap, its workers and the OS. */
export const CPU_ADAPTER_HOST_SHARE = 0.75;

export const UNLIMITED: MemoryBudget = { bytes: Infinity, source: 'unlimited' };

/**
 * The budget when neither the option nor the environment sets one: the device's memory heaps where reported;
 * for a CPU adapter, CPU_ADAPTER_HOST_SHARE of the host's RAM (unbounded, its pool kept every buffer size it ever
 * made until the OS killed the process); else unlimited.
 */
export function defaultMemoryBudget(deviceBytes: number | null, cpuAdapter: boolean, hostBytes: number | null): MemoryBudget {
  if (deviceBytes !== null) return { bytes: deviceBytes, source: "the device's memory heaps" };
  if (cpuAdapter && hostBytes !== null && hostBytes > 0) {
    return { bytes: Math.floor(CPU_ADAPTER_HOST_SHARE * hostBytes), source: `${100 * CPU_ADAPTER_HOST_SHARE}% of host memory (a CPU adapter's buffers are host memory)` };
  }
  return UNLIMITED;
}

/** The first of: the engine option, the environment, the default (defaultMemoryBudget). */
export function resolveMemoryBudget(option: number | undefined, fallback: MemoryBudget = UNLIMITED): MemoryBudget {
  if (option !== undefined) {
    if (!(option > 0)) throw new Error(`memoryBudgetBytes must be positive, got ${option}`);
    return { bytes: option, source: 'EngineOptions.memoryBudgetBytes' };
  }
  const env = envMemoryBudget();
  if (env !== undefined) return { bytes: env, source: MEMORY_BUDGET_ENV };
  return fallback;
}
