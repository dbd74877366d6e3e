/**
 * fanout: C members in one room, S of them sending at a total rate R. The fixed-rate run gives latency and the
 * server's CPU per delivery at a modest load; the ramp finds the highest rate the server sustains with p99 under
 * 100 ms, nothing lost and nobody disconnected.
 */
import { sleep } from '../clock.js';
import { closeAll, connectClients, joinAll, requireAll } from './common.js';
import type { Context } from './common.js';
import { describeStep, runStep } from './step.js';
import type { StepResult } from './step.js';

export interface FanoutOptions {
  members: number;
  senders: number;
  rate: number;
  durationS: number;
  wireSize: number;
  tickMs: number;
  drainMs: number;
  /** Dials per second while setting the room up. */
  connectRate: number;
  /** Cluster bench: which node client `index` dials, as its port and latency group (default: the pool's port). */
  place?: (index: number) => { port: number; group: number };
  /** Cluster bench: a pause after the joins, so every node has applied every join before the first message. */
  joinSettleMs?: number;
  /** Latency groups to report merged (StepSpec.mergeGroups). */
  mergeGroups?: Record<string, readonly number[]>;
}

export interface RampOptions extends FanoutOptions {
  /** First rate tried; doubled until a step fails, then bisected. */
  startRate: number;
  maxRate: number;
  stepS: number;
  /** Bisect until the bracket is narrower than this fraction of the passing rate. */
  precision: number;
  /** Total time the ramp may take, set-ups included. */
  budgetS: number;
}

export interface RampResult {
  /** Highest rate that passed (msg/s); 0 if none did. */
  maxRate: number;
  atMax: StepResult | undefined;
  steps: {
    rate: number;
    pass: boolean;
    p99: number;
    lost: number;
    disconnected: number;
    deliveriesPerSec: number;
    maxSendLagMs: number;
    otherCores: number;
    /** p99 of each merged latency group (FanoutOptions.mergeGroups), e.g. the cluster bench's cross-node p99. */
    mergedP99?: Record<string, number>;
  }[];
  elapsedS: number;
}

const CHANNEL = '#bench';
const MAX_STEPS = 25;
const NOISY_RETRIES = 2;

async function setUpRoom(ctx: Context, o: FanoutOptions): Promise<void> {
  if (o.senders > o.members) throw new Error('--senders cannot exceed --members');
  const c = await connectClients(ctx, o.members, o.connectRate, o.senders, o.place);
  requireAll('fanout: registered clients', c.registered, o.members, c.errors);
  const j = await joinAll(ctx, CHANNEL, 30_000);
  requireAll(`fanout: members of ${CHANNEL}`, j.joined, o.members, j.errors);
  if (o.joinSettleMs !== undefined) await sleep(o.joinSettleMs);
}

function step(ctx: Context, o: FanoutOptions, rate: number, durationS: number): Promise<StepResult> {
  const senders: { client: number; target: string }[] = [];
  // The senders are members 0..S-1: their sender id is their client number.
  for (let i = 0; i < o.senders; i++) senders.push({ client: i, target: CHANNEL });
  return runStep(ctx, {
    mode: 'fanout',
    rate,
    durationS,
    senders,
    senderCount: o.senders,
    partners: [],
    deliveriesPerMessage: o.members - 1,
    wireSize: o.wireSize,
    tickMs: o.tickMs,
    drainMs: o.drainMs,
    ...(o.mergeGroups !== undefined ? { mergeGroups: o.mergeGroups } : {}),
  });
}

export async function runFanout(ctx: Context, o: FanoutOptions): Promise<StepResult> {
  await setUpRoom(ctx, o);
  try {
    const r = await step(ctx, o, o.rate, o.durationS);
    ctx.log(`fanout C=${o.members} S=${o.senders} ${describeStep(r)}`);
    return r;
  } finally {
    await closeAll(ctx);
  }
}

export async function runRamp(ctx: Context, o: RampOptions): Promise<RampResult> {
  const t0 = Date.now();
  // Time spent waiting for a quiet machine (see waitForQuiet) does not count against the budget.
  let waitedMs = 0;
  const steps: RampResult['steps'] = [];
  let best = 0;
  let atMax: StepResult | undefined;
  let failed = Number.POSITIVE_INFINITY;
  let fresh = false;

  const attempt = async (rate: number): Promise<boolean> => {
    if (!fresh) {
      await setUpRoom(ctx, o);
      fresh = true;
    }
    let r = await step(ctx, o, Math.round(rate), o.stepS);
    waitedMs += r.quietWaitS * 1000;
    // A step that failed while other processes took a core says little about the server: run it again (once or
    // twice, from fresh clients) before believing it.
    for (let retry = 0; !r.pass && r.cpu.otherCores >= ctx.quietCores && retry < NOISY_RETRIES; retry++) {
      ctx.log(`ramp ${describeStep(r)}; other processes used ${r.cpu.otherCores} cores: repeating the step`);
      await closeAll(ctx, 1000);
      await setUpRoom(ctx, o);
      r = await step(ctx, o, Math.round(rate), o.stepS);
      waitedMs += r.quietWaitS * 1000;
    }
    ctx.log(`ramp ${describeStep(r)}`);
    steps.push({
      rate: r.rate,
      pass: r.pass,
      p99: r.latencyMs.p99,
      lost: r.lost,
      disconnected: r.disconnected,
      deliveriesPerSec: r.deliveriesPerSec,
      maxSendLagMs: r.maxSendLagMs,
      otherCores: r.cpu.otherCores,
      ...(r.merged !== undefined
        ? { mergedP99: Object.fromEntries(Object.entries(r.merged).map(([k, v]) => [k, v.latencyMs.p99])) }
        : {}),
    });
    if (r.pass) {
      if (r.rate > best) {
        best = r.rate;
        atMax = r;
      }
    } else {
      failed = Math.min(failed, r.rate);
      // A failed step leaves backlogs in the server and in socket buffers: start the next one from fresh clients.
      await closeAll(ctx, 1000);
      fresh = false;
    }
    return r.pass;
  };
  // Time for one more step (the step, its drain, and a room set-up), and a hard cap on the number of steps.
  const roomFor = (): boolean =>
    steps.length < MAX_STEPS && Date.now() - waitedMs + (o.stepS + o.drainMs / 1000 + 5) * 1000 < t0 + o.budgetS * 1000;

  try {
    // Geometric steps up until one fails (or down, if the first one fails)...
    let rate = o.startRate;
    if (await attempt(rate)) {
      while (rate * 2 <= o.maxRate && roomFor()) {
        rate *= 2;
        if (!(await attempt(rate))) break;
      }
    } else {
      while (rate / 2 >= 10 && roomFor()) {
        rate /= 2;
        if (await attempt(rate)) break;
      }
    }
    // ...then bisect (geometrically) between the best pass and the lowest fail.
    while (best > 0 && Number.isFinite(failed) && failed / best > 1 + o.precision && roomFor()) {
      await attempt(Math.sqrt(best * failed));
    }
  } finally {
    await closeAll(ctx);
  }
  const result: RampResult = { maxRate: best, atMax, steps, elapsedS: Math.round((Date.now() - t0) / 100) / 10 };
  ctx.log(
    `ramp: highest rate with p99 < 100 ms, nothing lost, nobody disconnected: ${best.toLocaleString('en-US')} msg/s` +
      (atMax !== undefined ? ` (${atMax.deliveriesPerSec.toLocaleString('en-US')} deliveries/s)` : '') +
      ` after ${steps.length} steps in ${result.elapsedS} s`,
  );
  return result;
}
