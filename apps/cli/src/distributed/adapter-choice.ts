// Which GPU a rank takes. dawn.node's create() flags pick an adapter by backend and by a substring of its name
// (`adapter=NAME`, the first match wins); Dawn takes the Vulkan loader's physical-device order and offers no
// index. So ranks on one host can be sent to different GPUs by name (SECO_ADAPTERS, one name per local rank)
// when the names differ; identical GPUs have identical names, and must be told apart below Dawn: by giving each
// rank only its own device (the scheduler's or container's device list), or on Mesa drivers with DRI_PRIME
// set per rank (docs/DISTRIBUTED.md).
import type { EngineOptions } from '@seco/tensor';

/** Engine options for local rank `localRank`: `adapter=NAME` from SECO_ADAPTERS (comma-separated), else none. */
export function adapterOptions(localRank: number, env: NodeJS.ProcessEnv = process.env): EngineOptions {
  const list = (env.SECO_ADAPTERS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (list.length === 0) return {};
  return { flags: [`adapter=${list[localRank % list.length]}`] };
}
