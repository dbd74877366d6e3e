/**
 * What the server counts for its metrics (issue 10, docs/operations.md): plain number fields incremented where things
 * happen and read by http/metrics.ts when Prometheus scrapes, so the message path pays an increment and allocates
 * nothing (no label lookups per message or per delivery).
 */
import type { MessageCommand } from './messaging.js';

/** How a connection reached the server. */
export type TransportKind = 'tcp' | 'tls' | 'websocket';

/** Why a connection was refused before it got a session. */
export type RefusalReason = 'per_ip_limit' | 'per_ip_rate' | 'max_connections' | 'out_of_service' | 'shutting_down';

export class Counters {
  readonly connectionsAccepted: Record<TransportKind, number> = { tcp: 0, tls: 0, websocket: 0 };
  readonly connectionsRefused: Record<RefusalReason, number> = {
    per_ip_limit: 0,
    per_ip_rate: 0,
    max_connections: 0,
    out_of_service: 0,
    shutting_down: 0,
  };
  /** Connections that completed registration (001 sent), also a second device joining a user online. */
  registrations = 0;
  /** Messages that passed the rules (one per target), before the store and delivery. */
  readonly messagesAccepted: Record<MessageCommand, number> = { PRIVMSG: 0, NOTICE: 0, TAGMSG: 0 };
  /** Every line queued on any connection of this node (net/connection.ts). */
  linesQueued = 0;
  /** The part of linesQueued that carried PRIVMSG, NOTICE and TAGMSG to recipients and echoes (Network.apply). */
  deliveries = 0;
  /** Connections dropped because they did not read fast enough ("SendQ exceeded"). */
  sendQueueDrops = 0;
  /** Connections closed for sending too fast ("Excess Flood"). */
  floodDisconnects = 0;
  /** Errors the server logged, by kind ("store", "command", ...). Errors are rare: a Map is fine here. */
  readonly errors = new Map<string, number>();

  countError(kind: string): void {
    this.errors.set(kind, (this.errors.get(kind) ?? 0) + 1);
  }
}

/**
 * Upper bounds (seconds) of the store latency buckets: from a cached SQLite read (tens of µs) to a PostgreSQL write
 * under load (tens of ms) and a stalled one.
 */
export const LATENCY_BUCKETS: readonly number[] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** A fixed-bucket latency histogram of one operation: observe() is a short loop and two additions. */
export class LatencyHistogram {
  /** counts[i]: observations in (LATENCY_BUCKETS[i-1], LATENCY_BUCKETS[i]]; the last slot holds those above all bounds. */
  readonly counts: number[] = new Array<number>(LATENCY_BUCKETS.length + 1).fill(0);
  sum = 0;
  count = 0;

  observe(seconds: number): void {
    let slot = 0;
    while (slot < LATENCY_BUCKETS.length && seconds > (LATENCY_BUCKETS[slot] ?? Infinity)) slot++;
    this.counts[slot] = (this.counts[slot] ?? 0) + 1;
    this.sum += seconds;
    this.count++;
  }
}

/** The store operations whose latency is measured (store/timed.ts): the ones on the message and login paths. */
export type TimedStoreOperation = 'history_append' | 'history_query' | 'account_lookup';

export class StoreTimings {
  readonly operations: Record<TimedStoreOperation, LatencyHistogram> = {
    history_append: new LatencyHistogram(),
    history_query: new LatencyHistogram(),
    account_lookup: new LatencyHistogram(),
  };
}
