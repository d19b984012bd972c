import { leakTracking } from './memory.ts';
import { engine, type EngineStats } from './runtime/engine.ts';

export interface MemoryStats extends EngineStats {
  /** Tensors alive while leak tracking is on (setLeakTracking(true)); -1 otherwise. */
  liveTensors: number;
}

export function memoryStats(): MemoryStats {
  return { ...engine().stats(), liveTensors: leakTracking.enabled ? leakTracking.live.size : -1 };
}
