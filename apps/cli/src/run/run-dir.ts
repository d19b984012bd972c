// A run's folder (`--out DIR`): config.json (the validated config as run), log.jsonl (one JSON object per logged
// step), checkpoints/, loss.png at the end, and whatever evaluation writes.
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { appendFile, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SecoConfig } from '../config/schema.ts';

export interface LogRecord {
  iteration: number;
  losses: Record<string, number>;
  /** The weighted sum that was minimised. */
  total: number;
  lr: number;
  it_per_sec: number;
  /** ISO time of the record, and seconds since the (possibly resumed) process started training. */
  time: string;
  elapsed_s: number;
  /** Mixed precision only: the loss scale after this iteration and the steps skipped on overflow so far. */
  loss_scale?: number;
  skipped_steps?: number;
}

export class RunDirError extends Error {
  override name = 'RunDirError';
}

export class RunDir {
  readonly configFile: string;
  readonly logFile: string;
  readonly checkpointDir: string;
  readonly lossPlot: string;

  constructor(readonly dir: string) {
    this.configFile = join(dir, 'config.json');
    this.logFile = join(dir, 'log.jsonl');
    this.checkpointDir = join(dir, 'checkpoints');
    this.lossPlot = join(dir, 'loss.png');
  }

  /**
   * Creates the folders. A fresh run refuses a folder that already holds a run, so an earlier run's log and
   * checkpoints are not mixed with a new one by accident.
   */
  static open(dir: string, o: { resume: boolean }): RunDir {
    const run = new RunDir(dir);
    const used = existsSync(run.logFile) || (existsSync(run.checkpointDir) && readdirSync(run.checkpointDir).length > 0);
    if (used && !o.resume) throw new RunDirError(`${dir} already holds a run (log.jsonl or checkpoints/); pass --resume to continue it or choose another --out`);
    mkdirSync(run.checkpointDir, { recursive: true });
    return run;
  }

  async writeConfig(config: SecoConfig): Promise<void> {
    await writeAtomic(this.configFile, `${JSON.stringify(config, null, 2)}\n`);
  }

  async appendLog(r: LogRecord): Promise<void> {
    await appendFile(this.logFile, `${JSON.stringify(r)}\n`);
  }

  async readLog(): Promise<LogRecord[]> {
    let text: string;
    try {
      text = await readFile(this.logFile, 'utf8');
    } catch {
      return [];
    }
    const out: LogRecord[] = [];
    // A crash can leave a half-written last line; everything before it is kept.
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      try {
        out.push(JSON.parse(line) as LogRecord);
      } catch {
        break;
      }
    }
    return out;
  }

  /** On resume from `step`: drop records of iterations that will be run again, so the log has no duplicates. */
  async truncateLog(step: number): Promise<void> {
    const kept = (await this.readLog()).filter((r) => r.iteration < step);
    await writeAtomic(this.logFile, kept.map((r) => `${JSON.stringify(r)}\n`).join(''));
  }
}

export async function writeAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, data);
  await rename(tmp, path);
}
