/**
 * dm: P pairs of clients sending each other private messages at a total rate R (each client of a pair is a sender
 * and its partner's only source), for the server's one-to-one routing cost.
 */
import { closeAll, connectClients, nickOf, requireAll } from './common.js';
import type { Context } from './common.js';
import { describeStep, runStep } from './step.js';
import type { StepResult } from './step.js';

export interface DmOptions {
  pairs: number;
  rate: number;
  durationS: number;
  wireSize: number;
  tickMs: number;
  drainMs: number;
  connectRate: number;
}

export async function runDm(ctx: Context, o: DmOptions): Promise<StepResult> {
  const clients = o.pairs * 2;
  const c = await connectClients(ctx, clients, o.connectRate);
  requireAll('dm: registered clients', c.registered, clients, c.errors);
  try {
    const senders: { client: number; target: string }[] = [];
    const partners: [number, number][] = [];
    // Clients 2i and 2i+1 are a pair; round-robin puts them on different workers.
    for (let i = 0; i < clients; i++) {
      const partner = i ^ 1;
      senders.push({ client: i, target: nickOf(ctx.generation, partner) });
      partners.push([i, partner]);
    }
    const r = await runStep(ctx, {
      mode: 'dm',
      rate: o.rate,
      durationS: o.durationS,
      senders,
      senderCount: clients,
      partners,
      deliveriesPerMessage: 1,
      wireSize: o.wireSize,
      tickMs: o.tickMs,
      drainMs: o.drainMs,
    });
    ctx.log(`dm P=${o.pairs} ${describeStep(r)}`);
    return r;
  } finally {
    await closeAll(ctx);
  }
}
