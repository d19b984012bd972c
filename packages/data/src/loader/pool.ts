// A fixed set of worker threads, each taking a few tasks at a time. Node-only.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { DataError } from '../errors.ts';
import type { SampleSpec } from './sample.ts';
import type { ReplyMessage, TaskMessage } from './worker.ts';

interface Pending {
  task: TaskMessage;
  resolve: () => void;
  reject: (e: Error) => void;
}

// Built code runs worker.js. From TypeScript sources (tests, tsx) the worker is worker.ts, loaded through a
// tiny bootstrap that registers tsx's loader first (workers ignore --import in execArgv).
const fromSource = fileURLToPath(import.meta.url).endsWith('.ts');

/** URL of tsx's ESM register API (its package exports' "import" target; require.resolve would pick the CJS one). */
function tsxEsmApi(): string {
  const require = createRequire(import.meta.url);
  const pkgFile = require.resolve('tsx/package.json');
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { exports: Record<string, { import: { default: string } }> };
  return pathToFileURL(join(dirname(pkgFile), pkg.exports['./esm/api'].import.default)).href;
}

function spawn(spec: SampleSpec): Worker {
  const options = { workerData: { spec } };
  if (!fromSource) return new Worker(new URL('./worker.js', import.meta.url), options);
  const entry = new URL('./worker.ts', import.meta.url).href;
  const boot = `import(${JSON.stringify(tsxEsmApi())}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(boot, { ...options, eval: true });
}

export class WorkerPool {
  private workers: Worker[] = [];
  private inflight: Map<number, Pending>[] = [];
  private queue: Pending[] = [];
  private nextId = 0;
  private closed = false;
  private failure: Error | null = null;

  constructor(n: number, spec: SampleSpec, private readonly perWorker = 2) {
    for (let i = 0; i < n; i++) {
      const w = spawn(spec);
      const mine = new Map<number, Pending>();
      w.on('message', (r: ReplyMessage) => {
        const p = mine.get(r.taskId);
        if (!p) return;
        mine.delete(r.taskId);
        if (r.ok) p.resolve();
        else p.reject(new DataError(r.file, r.message.startsWith(r.file) ? r.message.slice(r.file.length + 2) : r.message));
        this.pump();
      });
      const die = (err: Error) => {
        if (this.closed) return;
        const files = [...mine.values()].map((p) => p.task.ref.image);
        this.fail(new Error(`loader worker ${i} died${files.length ? ` while loading ${files.join(', ')}` : ''}: ${err.message}`, { cause: err }));
      };
      w.on('error', die);
      w.on('exit', (code) => die(new Error(`exit code ${code}`)));
      this.workers.push(w);
      this.inflight.push(mine);
    }
  }

  run(task: Omit<TaskMessage, 'taskId'>): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new Error('loader is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ task: { ...task, taskId: this.nextId++ }, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.queue.length) {
      let best = -1;
      for (let i = 0; i < this.workers.length; i++) {
        const load = this.inflight[i].size;
        if (load < this.perWorker && (best < 0 || load < this.inflight[best].size)) best = i;
      }
      if (best < 0) return;
      const p = this.queue.shift()!;
      this.inflight[best].set(p.task.taskId, p);
      this.workers[best].postMessage(p.task);
    }
  }

  private fail(e: Error): void {
    if (this.failure) return;
    this.failure = e;
    for (const m of this.inflight) for (const p of m.values()) p.reject(e);
    for (const p of this.queue) p.reject(e);
    this.queue = [];
    for (const m of this.inflight) m.clear();
    void this.close();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const err = new Error('loader closed');
    for (const p of this.queue) p.reject(err);
    this.queue = [];
    for (const m of this.inflight) for (const p of m.values()) p.reject(err);
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
