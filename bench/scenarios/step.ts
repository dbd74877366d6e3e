/**
 * One load step: the senders send at a fixed total rate for a fixed time, then the receivers get a bounded time to
 * drain, and the step is judged on what arrived. Shared by fanout, its ramp, and dm.
 */
import { nowUs, sleep } from '../clock.js';
import { Histogram, summarize } from '../histogram.js';
import type { LatencySummary } from '../histogram.js';
import type { LoadPlan, SenderSpec } from '../messages.js';
import { cpuBetween, cpuSnapshot } from '../proc.js';
import type { CpuUse } from '../proc.js';
import { NICK_LENGTH, serverPids, workerOf } from './common.js';
import { waitForQuiet } from './common.js';
import type { Context } from './common.js';

export interface StepSpec {
  mode: 'fanout' | 'dm';
  /** Total messages per second over all senders. */
  rate: number;
  durationS: number;
  /** The sending clients and whom they send to. */
  senders: { client: number; target: string }[];
  /** fanout: sender ids are below this. */
  senderCount: number;
  /** dm: [receiver, the client it hears from]. */
  partners: [number, number][];
  /** Deliveries each message should produce (room size - 1 for fanout, 1 for dm). */
  deliveriesPerMessage: number;
  wireSize: number;
  tickMs: number;
  drainMs: number;
  /** Latency groups (ClientSpec.group) to report merged as well, by name (the cluster bench: all cross-node ones). */
  mergeGroups?: Record<string, readonly number[]>;
}

export interface StepResult {
  rate: number;
  durationS: number;
  sent: number;
  expected: number;
  delivered: number;
  /** Deliveries per second offered (rate × recipients) and achieved (delivered / duration). */
  offeredDeliveriesPerSec: number;
  deliveriesPerSec: number;
  lost: number;
  duplicates: number;
  disconnected: number;
  latencyMs: LatencySummary;
  cpu: CpuUse;
  /** Server CPU-seconds per million deliveries; NaN without the server's pid. */
  serverCpuPerMillion: number;
  /** Each worker's event-loop utilization: near 1 means the generator itself was saturated. */
  workerElu: number[];
  maxSendLagMs: number;
  /** Most bytes of a sender's output Node held because the server was not reading them. */
  maxWriteBacklogBytes: number;
  /** Seconds spent waiting for other processes to go quiet before the step. */
  quietWaitS: number;
  deliveredLineBytes: number;
  /** Per latency group of the receivers (the cluster bench: per node), when the clients had groups. */
  groups?: { delivered: number; latencyMs: LatencySummary }[];
  /** StepSpec.mergeGroups: those groups' deliveries and latency together. */
  merged?: Record<string, { delivered: number; latencyMs: LatencySummary }>;
  pass: boolean;
  errors: string[];
}

/** The ramp's bar: p99 under this, nothing lost, nobody disconnected. */
export const P99_LIMIT_MS = 100;

export async function runStep(ctx: Context, spec: StepSpec): Promise<StepResult> {
  const quietWaitS = await waitForQuiet(ctx);
  ctx.epoch = (ctx.epoch + 1) % 1000;
  const epoch = ctx.epoch;
  const w = ctx.pool.size;
  const perSender = spec.rate / spec.senders.length;
  const gapUs = 1e6 / spec.rate;
  // Senders are phased so that together they emit one message every 1/rate seconds.
  const senders: SenderSpec[][] = Array.from({ length: w }, () => []);
  spec.senders.forEach((s, i) => {
    senders[workerOf(ctx, s.client)]?.push({
      client: s.client,
      target: s.target,
      ratePerSec: perSender,
      offsetUs: i * gapUs,
    });
  });
  const partners: [number, number][][] = Array.from({ length: w }, () => []);
  for (const p of spec.partners) partners[workerOf(ctx, p[0])]?.push(p);

  // A short lead so every worker has the plan before the first message is due.
  const startUs = nowUs() + 300_000;
  const durationUs = spec.durationS * 1e6;
  const plan = (i: number): LoadPlan => ({
    mode: spec.mode,
    epoch,
    startUs,
    durationUs,
    tickMs: spec.tickMs,
    wireSize: spec.wireSize,
    // `:` nick `!` user (maybe with `~`) `@127.0.0.1 `
    prefixLen: 1 + NICK_LENGTH + 1 + NICK_LENGTH + 1 + 1 + 9 + 1,
    senderCount: spec.senderCount,
    senders: senders[i] ?? [],
    partners: partners[i] ?? [],
  });
  const loads = ctx.pool.all<'load'>((i) => ({ type: 'load', plan: plan(i) }));
  await sleep(Math.max(0, (startUs - nowUs()) / 1000));
  const cpuStart = cpuSnapshot(serverPids(ctx.target));
  ctx.onCpuWindow?.('start');
  ctx.pool.markElu();
  const loaded = await loads;
  const workerElu = ctx.pool.eluSinceMark();

  let sent = 0;
  let maxLag = 0;
  let backlog = 0;
  for (const r of loaded) {
    sent += r.result.sent;
    maxLag = Math.max(maxLag, r.result.maxSendLagUs);
    backlog = Math.max(backlog, r.result.maxWriteBacklog);
  }
  const expected = sent * spec.deliveriesPerMessage;
  // Drain: wait until everything arrived or the drain time is up; what is missing then is lost.
  const drainEnd = Date.now() + spec.drainMs;
  for (;;) {
    const progress = await ctx.pool.all<'progress'>(() => ({ type: 'progress' }));
    const received = progress.reduce((a, r) => a + r.result.received, 0);
    if (received >= expected || Date.now() >= drainEnd) break;
    await sleep(25);
  }
  const cpuEnd = cpuSnapshot(serverPids(ctx.target));
  ctx.onCpuWindow?.('end');
  const stats = await ctx.pool.all<'collect'>(() => ({ type: 'collect' }));

  const latency = new Histogram();
  const groups: { delivered: number; latency: Histogram }[] = [];
  let delivered = 0;
  let duplicates = 0;
  let disconnected = 0;
  let lineBytes = 0;
  const errors: string[] = [];
  for (const s of stats) {
    latency.merge(s.result.latency);
    delivered += s.result.received;
    duplicates += s.result.duplicates;
    disconnected += s.result.disconnected;
    lineBytes = Math.max(lineBytes, s.result.deliveredLineBytes);
    s.result.byGroup?.forEach((g, i) => {
      const into = (groups[i] ??= { delivered: 0, latency: new Histogram() });
      into.delivered += g.received;
      into.latency.merge(g.latency);
    });
    errors.push(...s.result.errors);
    if (s.result.selfEchoes > 0) errors.push(`${s.result.selfEchoes} messages echoed to their sender`);
    if (s.result.foreign > 0) errors.push(`${s.result.foreign} benchmark lines from an unexpected sender`);
  }
  const cpu = cpuBetween(cpuStart, cpuEnd);
  const lost = Math.max(0, expected - delivered);
  const latencyMs = summarize(latency);
  return {
    rate: spec.rate,
    durationS: spec.durationS,
    sent,
    expected,
    delivered,
    offeredDeliveriesPerSec: Math.round(spec.rate * spec.deliveriesPerMessage),
    deliveriesPerSec: Math.round(delivered / spec.durationS),
    lost,
    duplicates,
    disconnected,
    latencyMs,
    cpu,
    serverCpuPerMillion: delivered > 0 ? Math.round((cpu.serverSeconds / (delivered / 1e6)) * 100) / 100 : Number.NaN,
    workerElu,
    maxSendLagMs: Math.round(maxLag) / 1000,
    maxWriteBacklogBytes: backlog,
    quietWaitS,
    deliveredLineBytes: lineBytes,
    ...(groups.length > 0
      ? { groups: groups.map((g) => ({ delivered: g.delivered, latencyMs: summarize(g.latency) })) }
      : {}),
    ...(spec.mergeGroups !== undefined ? { merged: mergeGroups(groups, spec.mergeGroups) } : {}),
    pass: latencyMs.p99 < P99_LIMIT_MS && lost === 0 && disconnected === 0 && delivered > 0,
    errors: errors.slice(0, 10),
  };
}

function mergeGroups(
  groups: { delivered: number; latency: Histogram }[],
  sets: Record<string, readonly number[]>,
): Record<string, { delivered: number; latencyMs: LatencySummary }> {
  const out: Record<string, { delivered: number; latencyMs: LatencySummary }> = {};
  for (const [name, members] of Object.entries(sets)) {
    const h = new Histogram();
    let delivered = 0;
    for (const i of members) {
      const g = groups[i];
      if (g === undefined) continue;
      h.merge(g.latency);
      delivered += g.delivered;
    }
    out[name] = { delivered, latencyMs: summarize(h) };
  }
  return out;
}

export function describeStep(r: StepResult): string {
  const f = (n: number): string => Math.round(n).toLocaleString('en-US');
  return (
    `${f(r.rate)} msg/s: ${f(r.deliveriesPerSec)}/${f(r.offeredDeliveriesPerSec)} deliveries/s, ` +
    `p50 ${r.latencyMs.p50} p99 ${r.latencyMs.p99} max ${r.latencyMs.max} ms, lost ${f(r.lost)}, ` +
    `disconnected ${r.disconnected}, cpu server ${r.cpu.serverCores} gen ${r.cpu.generatorCores} ` +
    `other ${r.cpu.otherCores} cores, elu ${r.workerElu.join('/')}, send lag ${r.maxSendLagMs} ms` +
    (r.pass ? ' PASS' : ' FAIL')
  );
}
