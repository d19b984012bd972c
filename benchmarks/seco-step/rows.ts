// A seco-step report as benchmark rows: the timed (warm) iteration and the cold first one.
import { round } from '../timing.ts';
import type { BenchCase } from '../types.ts';
import type { IterationStats, SecoStepReport } from './measure.ts';

const MiB = 2 ** 20;

function notes(s: IterationStats): string {
  return (
    `host encode ${round(s.encodeMs, 1)} ms (compile ${round(s.compileMs, 1)}), queue idle ${round(s.queueIdleMs, 1)} ms, ` +
    `${s.dispatches} dispatches (${round(s.hostUsPerDispatch, 1)} µs host each${s.encodeCpuMs > 0 ? `, ${round(s.hostCpuUsPerDispatch, 1)} µs of thread CPU` : ''}), ${s.submits} submits, ${s.readbacks} readbacks, ${s.newPipelines} new pipelines`
  );
}

export function secoStepRows(r: SecoStepReport): BenchCase[] {
  const shape = `${r.preset}: ${r.batch}x3x${r.crop}x${r.crop}`;
  const common = { gflops: null, peer_ms: null, ratio: null, adapter: r.adapter };
  const cold: BenchCase = { name: 'SeCo iteration, first (cold)', shape, ms: round(r.cold.wallMs, 1), ...common, notes: notes(r.cold) };
  const memory = `peak GPU memory ${round(r.peakLiveBytes / MiB, 1)} MiB; ${r.pipelines} pipelines${r.hostPinned ? '; timed iterations with the encoding thread on a core of its own' : ''}`;
  const last = r.timed.at(-1);
  const steady = last && r.timed.length > 1 ? `; last timed iteration: ${notes(last)}, ${last.bindGroupMisses} bind groups created` : '';
  // With no timed iteration the cold row carries the run's figures.
  if (!r.warm) return [{ ...cold, notes: `${cold.notes}; ${memory}`, detail: r }];
  return [
    {
      name: `SeCo iteration (${r.iterations === 1 ? '1 timed' : `median of ${r.iterations}`})`,
      shape,
      ms: round(r.warm.wallMs, 1),
      ...common,
      notes: `${notes(r.warm)}; ${memory}${steady}`,
      detail: r,
    },
    cold,
  ];
}
