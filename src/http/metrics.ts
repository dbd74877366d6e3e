/**
 * GET /metrics (issue 10, docs/operations.md "Metrics"): the server's counters in the Prometheus text format, from a
 * registry of this server's own (tests run several servers in one process). The hot paths only increment plain
 * fields (core/counters.ts); the collect() callbacks here read them when Prometheus scrapes.
 *
 * Access: with a token configured, only `Authorization: Bearer <token>`; without one, only clients on loopback,
 * and never a request a proxy relayed (it carries X-Forwarded-For or Forwarded): a proxy on the same host would
 * otherwise make everyone look local.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { IntervalHistogram } from 'node:perf_hooks';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context } from 'hono';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { timingSafeEqualStrings } from '../core/constant-time.js';
import { LATENCY_BUCKETS } from '../core/counters.js';
import type { StoreTimings, TransportKind } from '../core/counters.js';
import type { Connection } from '../net/connection.js';
import type { NatterServer } from '../net/server.js';
import { WebSocketTransport } from '../net/websocket.js';

export interface MetricsOptions {
  /** Cluster mode: this node's id, put on every metric as the label `node`. */
  readonly node?: string;
  /** Required as `Authorization: Bearer <token>` when set; otherwise only loopback clients are served. */
  readonly token?: string;
  /** Store latencies (store/timed.ts), when the store is measured. */
  readonly storeTimings?: StoreTimings;
}

const TRANSPORTS: readonly TransportKind[] = ['tcp', 'tls', 'websocket'];
/** Error kinds shown at 0 before the first one happens, so that rate() has a series from the start. */
const KNOWN_ERROR_KINDS = ['store', 'command', 'listener', 'bus', 'upload', 'internal'];
/** Resolution of the event-loop delay sampling, as prom-client's own default metrics use. */
const LOOP_DELAY_RESOLUTION_MS = 10;

/** The metrics of one server: made once per HTTP face, shared by its HTTP and HTTPS listeners. */
export class ServerMetrics {
  readonly registry = new Registry();
  private readonly loopDelay: IntervalHistogram;
  private readonly nodeLabel: string;

  constructor(
    private readonly natter: NatterServer,
    readonly options: MetricsOptions,
  ) {
    if (options.node !== undefined) this.registry.setDefaultLabels({ node: options.node });
    this.nodeLabel = options.node === undefined ? '' : `,node="${escapeLabel(options.node)}"`;
    collectDefaultMetrics({ register: this.registry });
    this.loopDelay = monitorEventLoopDelay({ resolution: LOOP_DELAY_RESOLUTION_MS });
    this.loopDelay.enable();
    this.define();
  }

  private define(): void {
    const { natter, registry, loopDelay } = this;
    const counters = natter.counters;
    const registers = [registry];
    new Gauge({
      name: 'natter_info',
      help: 'Always 1; the version of the running server is in its label.',
      labelNames: ['version'],
      registers,
      collect() {
        this.set({ version: natter.version }, 1);
      },
    });
    new Gauge({
      name: 'natter_connections_open',
      help: 'Connections open on this node, by transport (websocket includes wss).',
      labelNames: ['transport'],
      registers,
      collect() {
        const open: Record<TransportKind, number> = { tcp: 0, tls: 0, websocket: 0 };
        for (const connection of natter.connections) open[transportOf(connection)]++;
        for (const transport of TRANSPORTS) this.set({ transport }, open[transport]);
      },
    });
    new Counter({
      name: 'natter_connections_accepted_total',
      help: 'Connections taken on, by transport.',
      labelNames: ['transport'],
      registers,
      collect() {
        this.reset();
        for (const transport of TRANSPORTS) this.inc({ transport }, counters.connectionsAccepted[transport]);
      },
    });
    new Counter({
      name: 'natter_connections_refused_total',
      help: 'Connections refused before they got a session, by reason.',
      labelNames: ['reason'],
      registers,
      collect() {
        this.reset();
        for (const [reason, count] of Object.entries(counters.connectionsRefused)) this.inc({ reason }, count);
      },
    });
    new Counter({
      name: 'natter_registrations_total',
      help: 'Connections that completed registration (welcomed with 001), extra devices of a user online included.',
      registers,
      collect() {
        this.reset();
        this.inc(counters.registrations);
      },
    });
    new Gauge({
      name: 'natter_users',
      help: 'Registered users on the network, as this node sees it (every node mirrors the whole network).',
      registers,
      collect() {
        this.set(natter.network.registeredCount);
      },
    });
    new Counter({
      name: 'natter_messages_accepted_total',
      help: 'PRIVMSG, NOTICE and TAGMSG that passed the rules, one per target, by command.',
      labelNames: ['command'],
      registers,
      collect() {
        this.reset();
        for (const [command, count] of Object.entries(counters.messagesAccepted)) this.inc({ command }, count);
      },
    });
    new Counter({
      name: 'natter_message_deliveries_total',
      help: "Lines of PRIVMSG, NOTICE and TAGMSG queued to this node's connections: recipients and echoes.",
      registers,
      collect() {
        this.reset();
        this.inc(counters.deliveries);
      },
    });
    new Counter({
      name: 'natter_lines_sent_total',
      help: "Lines of any kind queued to this node's connections.",
      registers,
      collect() {
        this.reset();
        this.inc(counters.linesQueued);
      },
    });
    new Counter({
      name: 'natter_sendq_drops_total',
      help: 'Connections dropped because they did not read fast enough ("SendQ exceeded").',
      registers,
      collect() {
        this.reset();
        this.inc(counters.sendQueueDrops);
      },
    });
    new Counter({
      name: 'natter_flood_disconnects_total',
      help: 'Connections closed for sending faster than flood control allows ("Excess Flood").',
      registers,
      collect() {
        this.reset();
        this.inc(counters.floodDisconnects);
      },
    });
    new Counter({
      name: 'natter_errors_total',
      help: 'Errors the server logged, by kind (store, command, listener, bus, upload, internal).',
      labelNames: ['kind'],
      registers,
      collect() {
        this.reset();
        for (const kind of KNOWN_ERROR_KINDS) this.inc({ kind }, 0);
        for (const [kind, count] of counters.errors) this.inc({ kind }, count);
      },
    });
    new Gauge({
      name: 'natter_event_loop_lag_seconds',
      help: 'How late the event loop ran a 10 ms timer, since the previous scrape (perf_hooks monitorEventLoopDelay): p50, p99 and max.',
      labelNames: ['statistic'],
      registers,
      collect() {
        // Node records each whole interval between samples, the 10 ms resolution included: the lag is what exceeds it.
        // No sample yet (a scrape right after the previous one) reads as 0 rather than NaN.
        const seconds = (nanoseconds: number): number =>
          Number.isFinite(nanoseconds) && loopDelay.count > 0 ? Math.max(0, nanoseconds / 1e9 - LOOP_DELAY_RESOLUTION_MS / 1000) : 0;
        this.set({ statistic: 'p50' }, seconds(loopDelay.percentile(50)));
        this.set({ statistic: 'p99' }, seconds(loopDelay.percentile(99)));
        this.set({ statistic: 'max' }, seconds(loopDelay.max));
        loopDelay.reset();
      },
    });
  }

  /** The whole exposition: the registry's metrics, then the store latency histogram. */
  async render(): Promise<string> {
    const text = await this.registry.metrics();
    const timings = this.options.storeTimings;
    return timings === undefined ? text : `${text}\n${this.storeLatencyText(timings)}`;
  }

  /**
   * natter_store_operation_seconds, written here rather than by a prom-client Histogram: its observe() looks the
   * labels up on every call, and history appends happen once per message.
   */
  private storeLatencyText(timings: StoreTimings): string {
    const name = 'natter_store_operation_seconds';
    const lines = [
      `# HELP ${name} Time the store took, by operation (history_append, history_query, account_lookup).`,
      `# TYPE ${name} histogram`,
    ];
    for (const [operation, histogram] of Object.entries(timings.operations)) {
      const labels = `operation="${operation}"${this.nodeLabel}`;
      let cumulative = 0;
      LATENCY_BUCKETS.forEach((bound, index) => {
        cumulative += histogram.counts[index] ?? 0;
        lines.push(`${name}_bucket{${labels},le="${String(bound)}"} ${String(cumulative)}`);
      });
      lines.push(`${name}_bucket{${labels},le="+Inf"} ${String(histogram.count)}`);
      lines.push(`${name}_sum{${labels}} ${String(histogram.sum)}`);
      lines.push(`${name}_count{${labels}} ${String(histogram.count)}`);
    }
    return `${lines.join('\n')}\n`;
  }

  close(): void {
    this.loopDelay.disable();
  }
}

function transportOf(connection: Connection): TransportKind {
  if (connection.transport instanceof WebSocketTransport) return 'websocket';
  return connection.device.secure ? 'tls' : 'tcp';
}

/** Prometheus label values: backslash, double quote and newline escaped. */
function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** 127.0.0.0/8 and ::1, also as IPv4-mapped IPv6. */
function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const ip = address.startsWith('::ffff:') ? address.slice(7) : address;
  return ip === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(ip);
}

function remoteAddress(c: Context): string | undefined {
  try {
    return getConnInfo(c).remote.address;
  } catch {
    // app.request() in tests has no socket: not loopback.
    return undefined;
  }
}

/** The /metrics handler: the access rule of the module comment, then the exposition. */
export function metricsRoute(metrics: ServerMetrics) {
  const { token } = metrics.options;
  return async (c: Context): Promise<Response> => {
    c.header('Cache-Control', 'no-store');
    if (token !== undefined) {
      const given = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header('authorization') ?? '')?.[1];
      if (given === undefined || !timingSafeEqualStrings(given, token)) {
        c.header('WWW-Authenticate', 'Bearer realm="natter metrics"');
        return c.text('Metrics need "Authorization: Bearer <token>" with the token of metrics.token.\n', 401);
      }
    } else if (!isLoopback(remoteAddress(c)) || c.req.header('x-forwarded-for') !== undefined || c.req.header('forwarded') !== undefined) {
      return c.text('Metrics are served to loopback clients only; set metrics.token to let Prometheus scrape from elsewhere.\n', 403);
    }
    const body = await metrics.render();
    return c.body(body, 200, { 'Content-Type': metrics.registry.contentType });
  };
}
