// Training progress on the terminal: a bar redrawn in place on a TTY (loss terms, lr, it/s, ETA), plain lines
// otherwise (pipes, log files, CI), where a redrawn line would be noise.

export interface ProgressStream {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressInfo {
  iteration: number;
  losses: Record<string, number>;
  lr: number;
  itPerSec: number;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(r).padStart(2, '0')}s` : `${r}s`;
}

const num = (v: number) => (Math.abs(v) >= 1e-3 && Math.abs(v) < 1e4) || v === 0 ? v.toFixed(4) : v.toExponential(2);

export function formatLosses(losses: Record<string, number>): string {
  return Object.entries(losses)
    .map(([k, v]) => `${k} ${num(v)}`)
    .join(' ');
}

export class Progress {
  private readonly tty: boolean;
  private drawn = false;

  constructor(
    private readonly stream: ProgressStream,
    /** Iteration at which the run ends (exclusive). */
    private readonly total: number,
    tty?: boolean,
  ) {
    this.tty = tty ?? stream.isTTY === true;
  }

  /** The text for one update; `done` iterations so far. */
  line(p: ProgressInfo): string {
    const done = p.iteration + 1;
    const eta = p.itPerSec > 0 ? (this.total - done) / p.itPerSec : NaN;
    const pct = Math.floor((100 * done) / this.total);
    const stats = `${formatLosses(p.losses)} | lr ${p.lr.toExponential(3)} | ${p.itPerSec.toFixed(2)} it/s | ETA ${formatDuration(eta)}`;
    if (!this.tty) return `iter ${done}/${this.total} (${pct}%) ${stats}`;
    const width = 20;
    const fill = Math.round((width * done) / this.total);
    return `[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${done}/${this.total} ${stats}`;
  }

  update(p: ProgressInfo): void {
    let s = this.line(p);
    if (this.tty) {
      const cols = this.stream.columns ?? 120;
      if (s.length > cols - 1) s = `${s.slice(0, cols - 2)}…`;
      this.stream.write(`\r\x1b[2K${s}`);
      this.drawn = true;
    } else {
      this.stream.write(`${s}\n`);
    }
  }

  /** A message that must not be overwritten by the bar (validation results, warnings). */
  note(message: string): void {
    if (this.tty && this.drawn) this.stream.write('\r\x1b[2K');
    this.stream.write(`${message}\n`);
    this.drawn = false;
  }

  finish(): void {
    if (this.tty && this.drawn) this.stream.write('\n');
    this.drawn = false;
  }
}
