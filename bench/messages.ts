/** What the main thread and the client workers say to each other (structured-clone data only). */
import type { HistogramData } from './histogram.js';

export interface WorkerConfig {
  workerId: number;
  host: string;
  port: number;
  /** Source addresses to spread the clients over (all loopback). */
  sourceAddrs: string[];
  /** Dial with TLS (the `tls` variant) instead of plain TCP. */
  tls: boolean;
}

export interface ClientSpec {
  /** Global client number: also the sender id of its benchmark messages. */
  index: number;
  nick: string;
  /** Dial this port instead of the worker's (cluster bench: each client on its node). */
  port?: number;
  /** Latency group (cluster bench: the receiver's node); stats come back per group when any client has one. */
  group?: number;
}

export interface SenderSpec {
  client: number;
  target: string;
  ratePerSec: number;
  /** Phase of this sender's schedule, so the senders' messages interleave evenly. */
  offsetUs: number;
}

export interface LoadPlan {
  mode: 'fanout' | 'dm';
  epoch: number;
  /** Monotonic µs (clock.ts) when the first messages are due. */
  startUs: number;
  durationUs: number;
  tickMs: number;
  wireSize: number;
  /** Estimated length of the `:nick!user@host ` prefix the server adds, for sizing the padding. */
  prefixLen: number;
  /** fanout: sender ids are client numbers below this. */
  senderCount: number;
  senders: SenderSpec[];
  /** dm: [receiver client, the client it hears from]. */
  partners: [number, number][];
}

export type Request =
  | { type: 'connect'; id: number; clients: ClientSpec[]; ratePerSec: number; startUs: number; timeoutMs: number }
  | { type: 'join'; id: number; channel: string; timeoutMs: number }
  | { type: 'load'; id: number; plan: LoadPlan }
  | { type: 'progress'; id: number }
  | { type: 'collect'; id: number }
  | { type: 'close'; id: number };

export interface ConnectResult {
  dialled: number;
  registered: number;
  failed: number;
  firstDialUs: number;
  lastRegisteredUs: number;
  latency: HistogramData;
  errors: string[];
}

export interface JoinResult {
  joined: number;
  failed: number;
  errors: string[];
}

export interface LoadResult {
  sent: number;
  writes: number;
  /** Worst lateness of a send tick behind the messages' intended times: large means the generator fell behind. */
  maxSendLagUs: number;
  /** Largest amount of our own output buffered in Node (the server not reading fast enough). */
  maxWriteBacklog: number;
}

export interface Progress {
  received: number;
  stale: number;
}

export interface StepStats {
  received: number;
  stale: number;
  gaps: number;
  duplicates: number;
  selfEchoes: number;
  foreign: number;
  disconnected: number;
  alive: number;
  deliveredLineBytes: number;
  latency: HistogramData;
  /** Per latency group (ClientSpec.group), when any client has one: deliveries and their latency. */
  byGroup?: { received: number; latency: HistogramData }[];
  errors: string[];
}

export type Reply =
  | { type: 'ready'; workerId: number }
  | { type: 'connect'; id: number; result: ConnectResult }
  | { type: 'join'; id: number; result: JoinResult }
  | { type: 'load'; id: number; result: LoadResult }
  | { type: 'progress'; id: number; result: Progress }
  | { type: 'collect'; id: number; result: StepStats }
  | { type: 'close'; id: number; result: { closed: number } }
  | { type: 'error'; id: number; message: string };
