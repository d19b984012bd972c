// A progress bar for byte counts (downloads, extraction, conversion) on cli-progress: redrawn on a TTY, a plain
// line every few seconds otherwise (logs, CI).
import cliProgress from 'cli-progress';
import type { CommandIO } from '../commands/io.ts';

export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

export interface Bar {
  update(value: number): void;
  stop(): void;
}

/** `unit: 'bytes'` shows sizes and speed, `'items'` plain counts (images converted). */
export function startBar(io: CommandIO, label: string, total: number, start = 0, unit: 'bytes' | 'items' = 'bytes'): Bar {
  const stream = io.stderr as NodeJS.WritableStream & { isTTY?: boolean };
  const fmt = (v: number) => (unit === 'bytes' ? formatBytes(v) : String(v));
  const bar = new cliProgress.SingleBar({
    stream,
    format: `${label} [{bar}] {percentage}% | {done} / {size} | ETA {eta_formatted}`,
    barsize: 24,
    hideCursor: null,
    noTTYOutput: !stream.isTTY,
    notTTYSchedule: 5000,
    etaBuffer: 50,
  }, cliProgress.Presets.legacy);
  const known = total > 0;
  bar.start(known ? total : 1, known ? start : 0, { done: fmt(start), size: known ? fmt(total) : '?' });
  return {
    update: (v) => bar.update(known ? v : 0, { done: fmt(v) }),
    stop: () => bar.stop(),
  };
}
