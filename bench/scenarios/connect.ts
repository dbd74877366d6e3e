/**
 * connect: N clients dialled at a paced rate. Measures how fast the server registers them (dial to 001) and what
 * an idle registered client costs it in memory.
 */
import { sleep } from '../clock.js';
import type { LatencySummary } from '../histogram.js';
import { cpuBetween, cpuSnapshot, processRssBytes } from '../proc.js';
import type { CpuUse } from '../proc.js';
import { closeAll, connectClients, waitForQuiet } from './common.js';
import type { Context } from './common.js';

export interface ConnectOptions {
  clients: number;
  /** Dials per second, over all workers. */
  rate: number;
  /** Idle time before reading the server's memory, so it settles after the burst. */
  settleMs: number;
}

export interface ConnectResult {
  clients: number;
  registered: number;
  failed: number;
  registrationsPerSec: number;
  latencyMs: LatencySummary;
  /** The server's VmRSS before the clients came and once they sat idle; NaN without a pid. */
  rssBeforeBytes: number;
  rssAfterBytes: number;
  rssPerClientBytes: number;
  cpu: CpuUse;
  /** Each worker's event-loop utilization while connecting: near 1 means the generator was the limit. */
  workerElu: number[];
  errors: string[];
}

export async function runConnect(ctx: Context, opts: ConnectOptions): Promise<ConnectResult> {
  const pid = ctx.target.pid;
  const rss = (): number => (pid === undefined ? Number.NaN : processRssBytes(pid));
  await waitForQuiet(ctx);
  const before = rss();
  const cpuStart = cpuSnapshot(pid);
  ctx.pool.markElu();
  const summary = await connectClients(ctx, opts.clients, opts.rate);
  const workerElu = ctx.pool.eluSinceMark();
  const cpuEnd = cpuSnapshot(pid);
  await sleep(opts.settleMs);
  const after = rss();
  await closeAll(ctx, 1000);
  const result: ConnectResult = {
    clients: opts.clients,
    registered: summary.registered,
    failed: summary.failed,
    registrationsPerSec: summary.registrationsPerSec,
    latencyMs: summary.latencyMs,
    rssBeforeBytes: before,
    rssAfterBytes: after,
    rssPerClientBytes: summary.registered > 0 ? Math.round((after - before) / summary.registered) : Number.NaN,
    cpu: cpuBetween(cpuStart, cpuEnd),
    workerElu,
    errors: summary.errors,
  };
  const kb = (b: number): string => (Number.isNaN(b) ? 'n/a' : `${(b / 1024).toFixed(1)} KB`);
  ctx.log(
    `connect ${result.registered}/${result.clients} registered, ${result.registrationsPerSec}/s, dial->001 ` +
      `p50 ${result.latencyMs.p50} p99 ${result.latencyMs.p99} max ${result.latencyMs.max} ms, ` +
      `RSS/client ${kb(result.rssPerClientBytes)}, cpu server ${result.cpu.serverCores} gen ` +
      `${result.cpu.generatorCores} other ${result.cpu.otherCores} cores, elu ${workerElu.join('/')}` +
      (result.errors.length > 0 ? `; errors: ${result.errors.slice(0, 3).join(' | ')}` : ''),
  );
  return result;
}
