// Each report case runs in a child process of the report (same Node, same entry, `--child <id>`): a case over
// its budget is killed without stalling the rest, and a crash or a lost device fails only that case.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CaseMeasurement } from './measure.ts';

export type CaseOutcome =
  | { status: 'ok'; wallS: number; result: CaseMeasurement }
  | { status: 'failed' | 'timeout'; wallS: number; error: string };

/** Dawn's start-up notice about dynamic-offset limits, printed by every process: not news. */
const DAWN_NOTICE = /^Warning: \w+ artificially reduced from/;

/** What the child writes to its --result file. */
export type ChildResult = { ok: true; result: CaseMeasurement } | { ok: false; error: string };

/** This process's Node, its flags (tsx's loader when run from source) and entry: how the report starts itself. */
export const selfCommand = (): string[] => [process.execPath, ...process.execArgv, process.argv[1]];

/** Runs `command --child <id> --result FILE ...args`, killing it after `budgetS` seconds. */
export function runCaseProcess(command: readonly string[], id: string, args: readonly string[], budgetS: number, log: (line: string) => void): Promise<CaseOutcome> {
  const dir = mkdtempSync(join(tmpdir(), 'seco-gpu-case-'));
  const resultFile = join(dir, 'result.json');
  const t0 = performance.now();
  const wallS = () => (performance.now() - t0) / 1000;
  return new Promise((resolve) => {
    const child = spawn(command[0], [...command.slice(1), '--child', id, '--result', resultFile, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const tail: string[] = [];
    const onData = (d: Buffer) => {
      for (const line of d.toString().split('\n')) {
        if (!line.trim() || DAWN_NOTICE.test(line)) continue;
        log(`[${id}] ${line}`);
        tail.push(line);
        if (tail.length > 8) tail.shift();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, budgetS * 1000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      let res: ChildResult | null = null;
      try {
        res = JSON.parse(readFileSync(resultFile, 'utf8')) as ChildResult;
      } catch {
        // no result file: the child died before writing it
      }
      rmSync(dir, { recursive: true, force: true });
      if (killed) resolve({ status: 'timeout', wallS: wallS(), error: `over its budget of ${budgetS} s, killed; last output: ${tail.at(-1) ?? '(none)'}` });
      else if (res?.ok) resolve({ status: 'ok', wallS: wallS(), result: res.result });
      else resolve({ status: 'failed', wallS: wallS(), error: res ? res.error : `the case process ended with ${signal ?? `exit code ${code}`} and no result; last output: ${tail.slice(-3).join(' | ') || '(none)'}` });
    });
  });
}
