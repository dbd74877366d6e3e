/** What every scenario needs: the target, the workers, and the client set-up steps (connect, join, close). */
import { nowUs, sleep } from '../clock.js';
import { Histogram, summarize } from '../histogram.js';
import type { LatencySummary } from '../histogram.js';
import type { ClientSpec } from '../messages.js';
import type { WorkerPool } from '../pool.js';
import { cpuBetween, cpuSnapshot } from '../proc.js';

export interface Target {
  name: string;
  host: string;
  port: number;
  /** The server's pid, for its CPU and memory; without it those figures are left out. */
  pid: number | undefined;
  /** A server of several processes (the cluster bench's nodes): their CPU is summed as the server's. */
  pids?: readonly number[];
}

/** The pids whose CPU is the server's. */
export function serverPids(target: Target): number | readonly number[] | undefined {
  return target.pids ?? target.pid;
}

export interface Context {
  pool: WorkerPool;
  target: Target;
  log: (line: string) => void;
  /** Bumped for every client set, so nicks never collide with clients still leaving the server. */
  generation: number;
  /** Bumped for every load step; receivers ignore messages of other steps. */
  epoch: number;
  /** Before each measurement, wait (at most quietWaitS) until other processes use fewer cores than this. */
  quietCores: number;
  quietWaitS: number;
  /** Clients 0..dedicatedSenders-1 sit alone on worker 0 (see workerOf); set before connecting them. */
  dedicatedSenders: number;
  /** Whether the pool has a worker for the fan-out's senders (--sender-thread). */
  senderThread: boolean;
  /** Called where a load step starts and ends its CPU window, for readings of other processes (cluster bench). */
  onCpuWindow?: (edge: 'start' | 'end') => void;
}

/**
 * The machine is shared: a build or test run elsewhere takes the cores the server and the generator need. Waits,
 * bounded, until everything else uses less than ctx.quietCores; returns the seconds waited.
 */
export async function waitForQuiet(ctx: Context): Promise<number> {
  if (ctx.quietWaitS <= 0) return 0;
  const start = Date.now();
  let warned = false;
  for (;;) {
    const a = cpuSnapshot(serverPids(ctx.target));
    await sleep(500);
    const other = cpuBetween(a, cpuSnapshot(serverPids(ctx.target))).otherCores;
    const waited = (Date.now() - start) / 1000;
    if (other < ctx.quietCores) return Math.round(waited * 10) / 10;
    if (waited >= ctx.quietWaitS) {
      ctx.log(`machine still busy (other processes use ${other} cores) after ${ctx.quietWaitS} s: measuring anyway`);
      return Math.round(waited * 10) / 10;
    }
    if (!warned) {
      ctx.log(`waiting for the machine to quiet down (other processes use ${other} cores)`);
      warned = true;
    }
  }
}

/** A per-process tag in every nick, so two bench runs against one server do not collide either. */
const RUN_TAG = Math.floor(Math.random() * 36 * 36)
  .toString(36)
  .padStart(2, '0');

/** Nicks of equal length (9 characters, the RFC 1459 limit) so every delivered benchmark line has the same size. */
export function nickOf(generation: number, index: number): string {
  return `b${RUN_TAG}${(generation % 36).toString(36)}${String(index).padStart(5, '0')}`;
}

export const NICK_LENGTH = 9;

/**
 * Which worker owns client `index`. The first `ctx.dedicatedSenders` clients (the fan-out's senders) get worker 0 to
 * themselves: a receiving worker can be busy for tens of milliseconds draining a burst from every socket, and its
 * send timer would fire that late, which would show up as the server's latency. Everyone else is spread
 * round-robin, so dm partners (2i, 2i+1) land on different workers.
 */
export function workerOf(ctx: Context, index: number): number {
  const n = ctx.pool.size;
  if (ctx.dedicatedSenders > 0 && n > 1) return index < ctx.dedicatedSenders ? 0 : 1 + (index % (n - 1));
  return index % n;
}

export interface ConnectSummary {
  requested: number;
  registered: number;
  failed: number;
  /** Registrations per second from the first dial to the last 001. */
  registrationsPerSec: number;
  latencyMs: LatencySummary;
  errors: string[];
}

/** Connects `count` clients (numbered 0..count-1), dialled at `ratePerSec` in total, each registered (001). */
export async function connectClients(
  ctx: Context,
  count: number,
  ratePerSec: number,
  dedicatedSenders = 0,
  /** Where client `index` dials and its latency group (cluster bench); without it, the pool's port, no group. */
  place?: (index: number) => { port: number; group: number },
): Promise<ConnectSummary> {
  if (count > 99999) throw new Error('at most 99,999 clients (nicks carry a 5-digit client number)');
  ctx.dedicatedSenders = ctx.senderThread ? dedicatedSenders : 0;
  ctx.generation++;
  const perWorker: ClientSpec[][] = Array.from({ length: ctx.pool.size }, () => []);
  for (let i = 0; i < count; i++)
    perWorker[workerOf(ctx, i)]?.push({ index: i, nick: nickOf(ctx.generation, i), ...place?.(i) });
  const startUs = nowUs() + 50_000;
  // Generous: the dialling time plus time for a slow server to catch up, but bounded.
  const timeoutMs = Math.round((count / ratePerSec) * 1000 + 60_000);
  const replies = await ctx.pool.all<'connect'>((i) => ({
    type: 'connect',
    clients: perWorker[i] ?? [],
    ratePerSec: ratePerSec / ctx.pool.size,
    startUs,
    timeoutMs,
  }));
  const latency = new Histogram();
  let registered = 0;
  let failed = 0;
  let first = Number.POSITIVE_INFINITY;
  let last = 0;
  const errors: string[] = [];
  for (const r of replies) {
    latency.merge(r.result.latency);
    registered += r.result.registered;
    failed += r.result.failed;
    if (r.result.dialled > 0) first = Math.min(first, r.result.firstDialUs);
    last = Math.max(last, r.result.lastRegisteredUs);
    errors.push(...r.result.errors);
  }
  const seconds = (last - first) / 1e6;
  return {
    requested: count,
    registered,
    failed,
    registrationsPerSec: seconds > 0 ? Math.round(registered / seconds) : 0,
    latencyMs: summarize(latency),
    errors: errors.slice(0, 10),
  };
}

/** Every registered client joins `channel`; resolves when each has its 366 (end of NAMES). */
export async function joinAll(
  ctx: Context,
  channel: string,
  timeoutMs: number,
): Promise<{ joined: number; errors: string[] }> {
  const replies = await ctx.pool.all<'join'>(() => ({ type: 'join', channel, timeoutMs }));
  let joined = 0;
  const errors: string[] = [];
  for (const r of replies) {
    joined += r.result.joined;
    errors.push(...r.result.errors);
  }
  return { joined, errors: errors.slice(0, 10) };
}

/** Drops every client (TCP reset) and gives the server a moment to reap them. */
export async function closeAll(ctx: Context, settleMs = 500): Promise<void> {
  await ctx.pool.all<'close'>(() => ({ type: 'close' }));
  await sleep(settleMs);
}

/** Throws with the first errors if fewer than `want` clients made it. */
export function requireAll(what: string, got: number, want: number, errors: string[]): void {
  if (got < want) {
    throw new Error(
      `${what}: only ${got} of ${want}${errors.length > 0 ? `; first errors: ${errors.join(' | ')}` : ''}`,
    );
  }
}
