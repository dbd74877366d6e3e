/** The main thread's handle on the client workers: start them, call them, stop them. */
import { Worker } from 'node:worker_threads';
import type { EventLoopUtilization } from 'node:perf_hooks';
import type { Reply, Request, WorkerConfig } from './messages.js';

type Pending = (reply: Reply) => void;
/** Longer than any single request takes (the longest is dialling 10,000 clients or one load step with its drain). */
const CALL_TIMEOUT_MS = 300_000;
/** A request as the scenarios write it; the pool adds the id. */
type Call = DistributiveOmitId<Request>;
type DistributiveOmitId<T> = T extends unknown ? Omit<T, 'id'> : never;
type ReplyOf<T extends Call['type']> = Extract<Reply, { type: T }>;

/**
 * Node 20 does not apply `--import tsx` to worker threads, so when the bench runs from TypeScript source the worker
 * starts with a two-line bootstrap that registers tsx first, then imports worker.ts.
 */
function spawnWorker(config: WorkerConfig): Worker {
  const fromSource = import.meta.url.endsWith('.ts');
  const entry = new URL(fromSource ? './worker.ts' : './worker.js', import.meta.url);
  if (!fromSource) return new Worker(entry, { workerData: config });
  const tsx = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry.href)}); });`;
  return new Worker(code, { eval: true, workerData: config });
}

export class WorkerPool {
  readonly size: number;
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private elu: EventLoopUtilization[] = [];

  private constructor(size: number) {
    this.size = size;
  }

  static async start(size: number, base: Omit<WorkerConfig, 'workerId'>): Promise<WorkerPool> {
    const pool = new WorkerPool(size);
    const ready: Promise<void>[] = [];
    for (let i = 0; i < size; i++) {
      const config: WorkerConfig = { ...base, workerId: i };
      const w = spawnWorker(config);
      pool.workers.push(w);
      ready.push(
        new Promise<void>((resolve, reject) => {
          const onMessage = (msg: Reply): void => {
            if (msg.type === 'ready') {
              resolve();
              return;
            }
            const p = pool.pending.get(msg.id);
            if (p !== undefined) {
              pool.pending.delete(msg.id);
              p(msg);
            }
          };
          w.on('message', onMessage);
          w.once('error', (err) => {
            reject(err);
            pool.failAll(err);
          });
        }),
      );
    }
    await Promise.all(ready);
    pool.markElu();
    return pool;
  }

  private failAll(err: Error): void {
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p({ type: 'error', id, message: `worker died: ${err.stack ?? err.message}` });
    }
  }

  /** Sends one request to worker `i` and resolves with its reply (rejects on a worker error). */
  call<T extends Call['type']>(i: number, req: Extract<Call, { type: T }>): Promise<ReplyOf<T>> {
    const w = this.workers[i];
    if (w === undefined) return Promise.reject(new Error(`no worker ${i}`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      // A worker that never answers (stuck, or its reply lost) must not hang the whole run: every run stops by itself.
      const timer = setTimeout(() => {
        if (!this.pending.delete(id)) return;
        reject(new Error(`worker ${i} did not answer "${req.type}" within ${CALL_TIMEOUT_MS / 1000} s`));
      }, CALL_TIMEOUT_MS);
      this.pending.set(id, (r) => {
        clearTimeout(timer);
        if (r.type === 'error') reject(new Error(r.message));
        else resolve(r as ReplyOf<T>);
      });
      w.postMessage({ ...req, id });
    });
  }

  /** The same kind of request to every worker, built per worker. */
  all<T extends Call['type']>(make: (i: number) => Extract<Call, { type: T }>): Promise<ReplyOf<T>[]> {
    const calls: Promise<ReplyOf<T>>[] = [];
    for (let i = 0; i < this.size; i++) calls.push(this.call(i, make(i)));
    return Promise.all(calls);
  }

  /** Starts a new event-loop-utilization window for every worker. */
  markElu(): void {
    this.elu = this.workers.map((w) => w.performance.eventLoopUtilization());
  }

  /** Each worker's event-loop utilization (0..1) since markElu: near 1 means that worker was saturated. */
  eluSinceMark(): number[] {
    return this.workers.map((w, i) => {
      const start = this.elu[i];
      const now = w.performance.eventLoopUtilization();
      const d = start === undefined ? now : w.performance.eventLoopUtilization(now, start);
      return Math.round(d.utilization * 1000) / 1000;
    });
  }

  async stop(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
