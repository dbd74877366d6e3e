/**
 * The Bus across processes, through Redis (issue 9; docs/cluster.md "How nodes talk").
 *
 * Transport: one Redis Stream per node, its inbox (`<network>:inbox:<nodeId>`). A publisher appends the envelope
 * (codec.ts) to the inbox of every other live node, or of the nodes of the route; each node reads its own inbox with
 * XREAD BLOCK from the last id it read. Streams rather than PUBLISH: pub/sub is at-most-once, so a subscriber
 * connection that drops loses events silently and its mirror of the network diverges for good, while a stream keeps
 * the entries until they are read (and trimmed, MAXLEN ~ maxInboxLength). Writes go through one connection, in
 * publish order, batched per microtask into one pipeline; so every inbox holds a publisher's events in the order it
 * published them. A reconnect may resend a write Redis had already done: receivers keep the last seq per origin and
 * drop anything not above it, so every other node gets each event exactly once.
 *
 * Membership: a node holds a lease key `<network>:node:<id>` (SET PX leaseMs, renewed every leaseMs/3 with XX, so a
 * lease that expired never comes back) and is a member of the set `<network>:nodes`. Every leaseMs/2 each node runs
 * the reap script: members whose lease is gone are removed, their inbox deleted, and a `lost` notice naming one
 * winner (the node that ran the script; the script is atomic, so there is exactly one) is appended to every live
 * inbox. The winner calls the onNodeLost listeners when its reader reaches that notice, which is after every event
 * the dead node managed to send it. Until the winner has run them the duty stays in the hash `<network>:lost`; if the
 * winner dies first, the next reap hands the duty to another node.
 *
 * Fencing: every write is a script that first checks that this node's lease still exists. A node whose lease expired
 * (Redis unreachable, or the process stalled, for longer than leaseMs) has been or is about to be reaped, and its
 * sessions removed by the others; from then on nothing it writes reaches anyone, and it reports
 * onHealth(false, 'this node was declared lost ...'). That state is final: the process should stop taking work,
 * close the bus and come back with a new node id.
 *
 * Joining: connect() registers the node, learns the live nodes, sends each a `hello` and waits (at most leaseMs) for
 * their `welcome`: a node that welcomed it sends it every event published after that. So once connect() has
 * resolved, every live node sends this one everything it publishes. Remote events read before the first subscribe()
 * are held and delivered (in order) right after it.
 *
 * Joining a running network (option `bootstrap`, docs/cluster.md "Joining a running network"): remote events are held
 * instead until bootstrap() has taken the state of one live node that had joined before (its `welcome` said
 * `ready`). The request goes through that node's inbox, after every event any node sent it before welcoming this
 * one (each writer's appends are ordered, and this node asks only once every live node has welcomed it); the node
 * answers when its reader reaches the request, with its state (Bus.onSnapshotRequest) and, per publisher, the last seq
 * it has applied (its own publish seq included): everything not in the state was sent to this node too. The answer
 * comes back in pieces (`s` entries of at most SNAPSHOT_PIECE characters, deleted once read). This node applies it,
 * drops the held events the vector covers, raises its per-origin seqs to it (so the later entries it covers are
 * dropped as duplicates) and delivers the rest: every event once, whatever arrived while the state was on its way.
 *
 * Not for Redis Cluster: the scripts touch keys they do not declare. One Redis (with replicas or Sentinel) serves
 * the network.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Redis } from 'ioredis';
import type { NetworkEvent } from '../core/events.js';
import type { Bus, Delivery, Route } from '../core/ports.js';
import type { NetworkSnapshot } from '../core/snapshot.js';
import { CodecError, decodeEnvelope, encodeEnvelope } from './codec.js';

export interface RedisBusOptions {
  /** redis://[user:password@]host:port[/db], or rediss:// for TLS. */
  readonly url: string;
  /** The key prefix of this chat network, e.g. "natter"; every key the bus uses starts with "<network>:". */
  readonly network: string;
  /** Letters, digits and ". _ : -"; default "<hostname>-<pid>-<random>". Never reuse the id of a lost node. */
  readonly nodeId?: string;
  /** How long a node may go silent before the others declare it lost (default 5000 ms). */
  readonly leaseMs?: number;
  /** Approximate length at which an inbox is trimmed (default 100,000 entries). */
  readonly maxInboxLength?: number;
  /**
   * Events published but not yet acknowledged by Redis (while it is slow or unreachable) above which this node stops,
   * as if lost, rather than grow without bound or drop events silently (default 100,000).
   */
  readonly maxBacklog?: number;
  /** A malformed inbox entry, a failed write, a listener that threw: reported here, then skipped. */
  readonly onError?: (error: Error) => void;
  /** Changes of health (the bus starts healthy). `healthy` false with a `why` starting "this node was declared lost" is final. */
  readonly onHealth?: (healthy: boolean, why: string) => void;
  /**
   * The node will join with bootstrap() (Bus.bootstrap): remote events and node losses are held until then, rather
   * than delivered from the first subscribe(). Without it, bootstrap() throws.
   */
  readonly bootstrap?: boolean;
  /** How long bootstrap() waits for the live nodes' welcomes, then for each node asked to answer (default 30,000 ms). */
  readonly snapshotTimeoutMs?: number;
}

export interface LiveNode {
  readonly nodeId: string;
  /** When it started (epoch ms), from its lease. */
  readonly sinceMs?: number;
  /** Milliseconds left on its lease. */
  readonly leaseTtlMs: number;
  /** What it last gave setStatus() (and its pid and host). */
  readonly status: Readonly<Record<string, unknown>>;
}

const DEFAULT_LEASE_MS = 5000;
const DEFAULT_MAX_INBOX = 100_000;
const DEFAULT_MAX_BACKLOG = 100_000;
/** Entries per XREAD, and how long one blocks (close() disconnects the reader, so this only bounds a silent wait). */
const READ_COUNT = 1000;
const READ_BLOCK_MS = 5000;
const NODE_ID = /^[A-Za-z0-9._:-]{1,100}$/;
const DEFAULT_SNAPSHOT_TIMEOUT_MS = 30_000;
/** Characters per `s` entry of a snapshot answer: a large network's state (megabytes) goes as several bounded entries. */
const SNAPSHOT_PIECE = 256 * 1024;
/** The format of a snapshot answer (`{v, from, req, vector, state}`); the state has its own version (core/snapshot.ts). */
const SNAPSHOT_FRAME_VERSION = 1;

// Every write: fenced by the writer's own lease (KEYS[1]); appended only to inboxes that exist (NOMKSTREAM), so a
// node that left or was reaped does not get its inbox back. Returns -1 when the lease is gone.
const SEND = `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
for i = 2, #KEYS do
  redis.call('XADD', KEYS[i], 'NOMKSTREAM', 'MAXLEN', '~', ARGV[1], '*', ARGV[2], ARGV[3])
end
return #KEYS - 1`;

// KEYS: lease, nodes, inbox, lost; ARGV: id, lease value, leaseMs. Refuses an id that is live, or not cleaned up yet.
const START = `
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1
  or redis.call('HEXISTS', KEYS[4], ARGV[1]) == 1 then return false end
redis.call('DEL', KEYS[3])
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
redis.call('SADD', KEYS[2], ARGV[1])
return redis.call('XADD', KEYS[3], '*', 'c', 'start')`;

// KEYS: nodes, lost; ARGV: key prefix, id, maxlen. Returns {live ids, ids this node must report lost, 1}, or 0 as
// the third item when this node's own lease is gone (a lost node reaps nobody).
const REAP = `
local prefix, me = ARGV[1], ARGV[2]
local live, dead, duties = {}, {}, {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', prefix .. 'node:' .. id) == 1 then live[#live + 1] = id
  elseif id ~= me then dead[#dead + 1] = id end
end
if redis.call('EXISTS', prefix .. 'node:' .. me) == 0 then return {live, duties, 0} end
for _, id in ipairs(dead) do
  redis.call('SREM', KEYS[1], id)
  redis.call('DEL', prefix .. 'inbox:' .. id)
  redis.call('HSET', KEYS[2], id, me)
  duties[#duties + 1] = id
end
local pending = redis.call('HGETALL', KEYS[2])
for i = 1, #pending, 2 do
  local id, winner = pending[i], pending[i + 1]
  if winner ~= me and redis.call('EXISTS', prefix .. 'node:' .. winner) == 0 then
    redis.call('HSET', KEYS[2], id, me)
    duties[#duties + 1] = id
  end
end
for _, id in ipairs(duties) do
  for _, peer in ipairs(live) do
    redis.call('XADD', prefix .. 'inbox:' .. peer, 'NOMKSTREAM', 'MAXLEN', '~', ARGV[3], '*', 'c', 'lost ' .. id .. ' ' .. me)
  end
end
return {live, duties, 1}`;

// KEYS: lost; ARGV: dead id, this id. The onNodeLost listeners ran: the duty is done (unless it was handed over).
const DONE = `
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('HDEL', KEYS[1], ARGV[1]) end
return 1`;

// KEYS: lease, nodes, inbox; ARGV: id. A clean leave, only while the lease holds: a node whose lease expired is left
// in the set for the others to reap (and report, so its sessions are removed).
const LEAVE = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[3])
return 1`;

interface BusCommands {
  natterSend(numKeys: number, keys: readonly string[], maxlen: number, field: string, value: string): Promise<number>;
  natterStart(lease: string, nodes: string, inbox: string, lost: string, id: string, value: string, leaseMs: number): Promise<string | null>;
  natterReap(nodes: string, lost: string, prefix: string, id: string, maxlen: number): Promise<[string[], string[], number]>;
  natterDone(lost: string, dead: string, id: string): Promise<number>;
  natterLeave(lease: string, nodes: string, inbox: string, id: string): Promise<number>;
}
type Connection = Redis & BusCommands;
/** The same scripts queued on a pipeline: their replies come from exec(). */
interface PipelineCommands {
  natterSend(numKeys: number, keys: readonly string[], maxlen: number, field: string, value: string): void;
  natterDone(lost: string, dead: string, id: string): void;
  exec(): Promise<Array<[Error | null, unknown]> | null>;
}

type Write =
  | { readonly keys: readonly string[]; readonly field: 'e' | 'c' | 's'; readonly value: string }
  | { readonly done: string };

type Held = { readonly event: NetworkEvent; readonly delivery: Delivery; readonly seq: number } | { readonly lost: string };

/** The snapshot this node waits for: from which node, for which request, and the pieces read so far. */
interface SnapshotWait {
  readonly peer: string;
  readonly req: string;
  readonly pieces: Array<string | undefined>;
  received: number;
  readonly finish: (result: string | Error) => void;
}

type Listener = (event: NetworkEvent, delivery: Delivery) => void;

class Keys {
  readonly prefix: string;
  readonly nodes: string;
  readonly lost: string;
  constructor(network: string) {
    this.prefix = `${network}:`;
    this.nodes = `${network}:nodes`;
    this.lost = `${network}:lost`;
  }
  lease(id: string): string {
    return `${this.prefix}node:${id}`;
  }
  inbox(id: string): string {
    return `${this.prefix}inbox:${id}`;
  }
}

/** The URL without its password, for messages. */
function shown(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable Redis URL)';
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function defaultNodeId(): string {
  const host = hostname().replace(/[^A-Za-z0-9.-]/g, '').slice(0, 60) || 'node';
  return `${host}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

function connection(url: string, role: string, nodeId: string): Connection {
  const redis = new Redis(url, {
    lazyConnect: true,
    // RESP2: the reply shapes the types and the code expect, whatever ioredis defaults to.
    protocol: 2,
    // Commands wait for a reconnect instead of failing after a few retries: a write that failed would be an event
    // lost for some node. The backlog bound and the lease bound the wait instead.
    maxRetriesPerRequest: null,
    connectionName: `natter:${nodeId}:${role}`,
    retryStrategy: (times) => Math.min(50 * times, 1000),
  }) as Connection;
  redis.defineCommand('natterSend', { lua: SEND });
  redis.defineCommand('natterStart', { lua: START, numberOfKeys: 4 });
  redis.defineCommand('natterReap', { lua: REAP, numberOfKeys: 2 });
  redis.defineCommand('natterDone', { lua: DONE, numberOfKeys: 1 });
  redis.defineCommand('natterLeave', { lua: LEAVE, numberOfKeys: 3 });
  return redis;
}

export class RedisBus implements Bus {
  readonly nodeId: string;
  private readonly keys: Keys;
  private readonly leaseKey: string;
  private readonly leaseMs: number;
  private readonly maxInboxLength: number;
  private readonly maxBacklog: number;
  private readonly onError: (error: Error) => void;
  private readonly onHealth: (healthy: boolean, why: string) => void;
  private readonly startedAt = Date.now();
  private status: Readonly<Record<string, unknown>> = {};

  private state: 'open' | 'lost' | 'closing' | 'closed' = 'open';
  private healthy = true;
  private readonly up = { writer: false, reader: false };
  private lastConnectionError: string | undefined;

  private readonly listeners: Listener[] = [];
  private readonly lostListeners: Array<(nodeId: string) => void> = [];
  /** Remote events and loss notices read before the first subscribe(); undefined once delivering. */
  private held: Held[] | undefined = [];
  private readonly localDelivery: Delivery;
  private readonly remoteDeliveries = new Map<string, Delivery>();

  /** Live nodes other than this one, and the keys of a broadcast: this lease (the fence), then their inboxes. */
  private readonly peers = new Set<string>();
  private broadcastKeys: readonly string[];
  /** Nodes that said hello, with the reap round they said it in (a reap issued before must not drop them). */
  private readonly helloRound = new Map<string, number>();
  /** Nodes that left or were lost: a reap answer computed before they went must not bring them back. */
  private readonly departed = new Set<string>();
  private reapRound = 0;
  private welcome: { readonly awaiting: Set<string>; readonly resolve: () => void } | undefined;

  private seq = 0;
  private readonly lastSeq = new Map<string, number>();
  private lastId = '$';

  private queue: Write[] = [];
  private flushScheduled = false;
  /** Writes sent to Redis and not acknowledged yet. */
  private backlog = 0;

  /** Held events until bootstrap() (option `bootstrap`); cleared when it has applied a state or found none. */
  private joining: boolean;
  private bootstrapStarted = false;
  /** Events were dropped while held: a bootstrap would miss them. */
  private heldOverflow = false;
  private readonly snapshotTimeoutMs: number;
  private provider: (() => unknown) | undefined;
  /** Nodes that welcomed this one saying they can give their state, in the order they did. */
  private readonly readyPeers = new Set<string>();
  /** Nodes this one said hello to that have neither welcomed it nor gone; bootstrap() waits for them. */
  private readonly unwelcomed = new Set<string>();
  private welcomedWaiter: (() => void) | undefined;
  private snapshotWait: SnapshotWait | undefined;

  private readonly timers: NodeJS.Timeout[] = [];
  private renewal: Promise<void> | undefined;
  private renewAgain = false;
  private reaping = false;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly url: string,
    private readonly writer: Connection,
    private readonly reader: Connection,
    options: RedisBusOptions & { readonly nodeId: string },
  ) {
    this.nodeId = options.nodeId;
    this.keys = new Keys(options.network);
    this.leaseKey = this.keys.lease(this.nodeId);
    this.broadcastKeys = [this.leaseKey];
    this.leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    this.maxInboxLength = options.maxInboxLength ?? DEFAULT_MAX_INBOX;
    this.maxBacklog = options.maxBacklog ?? DEFAULT_MAX_BACKLOG;
    this.joining = options.bootstrap === true;
    this.snapshotTimeoutMs = options.snapshotTimeoutMs ?? DEFAULT_SNAPSHOT_TIMEOUT_MS;
    this.onError =
      options.onError ??
      ((error) => {
        process.emitWarning(error);
      });
    this.onHealth =
      options.onHealth ??
      (() => {
        // Nobody asked.
      });
    this.localDelivery = { local: true, origin: this.nodeId };
    for (const redis of [writer, reader]) {
      // ioredis reports each failed (re)connection here; the health report names the last one.
      redis.on('error', (error: Error) => {
        this.lastConnectionError = error.message;
      });
    }
  }

  /**
   * Connects (two connections: one writes, one blocks reading the inbox), registers this node and introduces it to
   * the live nodes. Rejects when Redis is unreachable or the node id is in use; once it resolves, every live node
   * sends this one everything it publishes.
   */
  static async connect(options: RedisBusOptions): Promise<RedisBus> {
    const nodeId = options.nodeId ?? defaultNodeId();
    if (!NODE_ID.test(nodeId)) throw new Error(`node id ${JSON.stringify(nodeId)} must be 1-100 letters, digits or . _ : -`);
    if (!/^[^\s]{1,100}$/.test(options.network)) throw new Error(`network ${JSON.stringify(options.network)} must be 1-100 characters without spaces`);
    const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    if (!Number.isInteger(leaseMs) || leaseMs < 100) throw new Error(`leaseMs must be an integer of at least 100 (got ${leaseMs})`);
    const writer = connection(options.url, 'writer', nodeId);
    const reader = connection(options.url, 'reader', nodeId);
    const bus = new RedisBus(options.url, writer, reader, { ...options, nodeId });
    try {
      await Promise.all([writer.connect(), reader.connect()]);
    } catch (error) {
      bus.drop();
      throw new Error(`cannot connect to Redis at ${shown(options.url)}: ${asError(error).message}`, { cause: error });
    }
    try {
      await bus.start();
    } catch (error) {
      bus.drop();
      throw error;
    }
    return bus;
  }

  /** The nodes of a network whose lease holds, for `natter cluster status`. */
  static async liveNodes(url: string, network: string): Promise<LiveNode[]> {
    const redis = new Redis(url, { lazyConnect: true, protocol: 2, maxRetriesPerRequest: 1 });
    redis.on('error', () => undefined);
    const keys = new Keys(network);
    try {
      await redis.connect();
      const ids = (await redis.smembers(keys.nodes)).sort();
      const pipeline = redis.pipeline();
      for (const id of ids) pipeline.get(keys.lease(id)).pttl(keys.lease(id));
      const replies = (await pipeline.exec()) ?? [];
      const nodes: LiveNode[] = [];
      ids.forEach((nodeId, index) => {
        const value = replies[2 * index]?.[1];
        const ttl = replies[2 * index + 1]?.[1];
        if (typeof value !== 'string' || typeof ttl !== 'number' || ttl <= 0) return;
        let status: Record<string, unknown> = {};
        try {
          const parsed: unknown = JSON.parse(value);
          if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) status = parsed as Record<string, unknown>;
        } catch {
          // A lease value we cannot read still says the node is live.
        }
        const { startedAt, ...rest } = status;
        nodes.push({ nodeId, ...(typeof startedAt === 'number' ? { sinceMs: startedAt } : {}), leaseTtlMs: ttl, status: rest });
      });
      return nodes;
    } finally {
      redis.disconnect();
    }
  }

  publish(event: NetworkEvent, route?: Route): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    const seq = ++this.seq;
    if (this.state === 'open') {
      const keys = route === undefined ? this.broadcastKeys : this.routeKeys(route);
      if (keys.length > 1) this.send(keys, seq, event);
    }
    for (const listener of this.listeners) listener(event, this.localDelivery);
  }

  subscribe(listener: Listener): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.listeners.push(listener);
    const held = this.held;
    // A joining node holds them until bootstrap() has applied a state.
    if (held !== undefined && this.listeners.length === 1 && !this.joining) {
      // After the caller's other synchronous subscriptions, in the order they were read; new reads queue behind.
      queueMicrotask(() => {
        this.held = undefined;
        for (const item of held) this.hand(item);
      });
    }
  }

  onNodeLost(listener: (nodeId: string) => void): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.lostListeners.push(listener);
  }

  onSnapshotRequest(provide: () => NetworkSnapshot): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.provider = provide;
  }

  /** See Bus.bootstrap and the file comment. Needs the option `bootstrap`; runs once. */
  async bootstrap(apply: (snapshot: unknown) => void): Promise<boolean> {
    if (!this.joining || this.bootstrapStarted) {
      throw new Error('bootstrap() needs RedisBus.connect({ bootstrap: true }) and runs once: otherwise events may be applied before the state');
    }
    this.bootstrapStarted = true;
    await this.allWelcomed();
    const asked: string[] = [];
    let text: string | undefined;
    for (const peer of [...this.readyPeers]) {
      if (!this.peers.has(peer)) continue;
      try {
        text = await this.ask(peer);
        break;
      } catch (error) {
        asked.push(`${peer} (${asError(error).message})`);
        if (!this.isOpen()) break;
      }
    }
    if (!this.isOpen()) throw new Error('the bus stopped while this node was joining');
    if (text === undefined && asked.length > 0) throw new Error(`no node gave its state: ${asked.join('; ')}`);
    if (this.heldOverflow) throw new Error(`more than ${this.maxBacklog} events arrived while this node was joining: some were dropped`);
    const held = this.held ?? [];
    let kept = held;
    if (text !== undefined) {
      const { vector, state } = parseAnswer(text);
      apply(state);
      for (const [origin, seq] of vector) if (origin !== this.nodeId && seq > (this.lastSeq.get(origin) ?? 0)) this.lastSeq.set(origin, seq);
      kept = held.filter((item) => 'lost' in item || item.seq > (vector.get(item.delivery.origin) ?? 0));
    }
    this.joining = false;
    if (this.listeners.length > 0 || this.lostListeners.length > 0) {
      this.held = undefined;
      for (const item of kept) this.hand(item);
    } else {
      this.held = kept;
    }
    return text !== undefined;
  }

  /** What the lease holds besides startedAt, pid and host (sessions, version, ...), as RedisBus.liveNodes shows it. */
  setStatus(info: Record<string, unknown>): void {
    this.status = info;
    void this.renew();
  }

  /**
   * A clean leave: the events already published are written, the others are told (no onNodeLost for a node that
   * closed), and the lease, the set entry and the inbox are removed. The caller publishes its sessions' quits first.
   * Bounded by leaseMs when Redis is unreachable (the lease then expires and the others reap this node). Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  /**
   * For tests: the process dies here (kill -9). Timers stop and both connections drop without a word; the lease
   * expires by itself and the other nodes reap this one.
   */
  simulateCrash(): void {
    this.closing ??= Promise.resolve();
    this.drop();
  }

  /** Whether the node still publishes to the others (a method, so checks after an await are not narrowed away). */
  private isOpen(): boolean {
    return this.state === 'open';
  }

  private isStopping(): boolean {
    return this.state === 'closing' || this.state === 'closed';
  }

  // --- publishing --------------------------------------------------------------------------------------------

  private routeKeys(route: NonNullable<Route>): string[] {
    const keys = [this.leaseKey];
    for (const id of route.nodes) if (id !== this.nodeId) keys.push(this.keys.inbox(id));
    return keys;
  }

  private send(keys: readonly string[], seq: number, event: NetworkEvent): void {
    if (this.backlog + this.queue.length >= this.maxBacklog) {
      this.fence(
        `this node was declared lost: more than ${this.maxBacklog} events waited for Redis at ${shown(this.url)}, so it stopped ` +
          'rather than drop some; the other nodes will remove its sessions. Restart it with a new node id.',
      );
      return;
    }
    let value: string;
    try {
      value = encodeEnvelope({ origin: this.nodeId, seq, event });
    } catch (error) {
      this.onError(new Error(`cannot encode a ${event.type} event: ${asError(error).message}`, { cause: error }));
      return;
    }
    this.enqueue({ keys, field: 'e', value });
  }

  private control(to: string, message: string): void {
    this.enqueue({ keys: [this.leaseKey, this.keys.inbox(to)], field: 'c', value: message });
  }

  private enqueue(write: Write): void {
    this.queue.push(write);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(this.flush);
    }
  }

  /** Sends the queued writes as one pipeline: one connection, so Redis applies them in publish order. */
  private readonly flush = (): void => {
    this.flushScheduled = false;
    const batch = this.queue;
    if (batch.length === 0 || this.state === 'closed') return;
    this.queue = [];
    const pipeline = this.writer.pipeline() as unknown as PipelineCommands;
    for (const write of batch) {
      if ('done' in write) pipeline.natterDone(this.keys.lost, write.done, this.nodeId);
      else pipeline.natterSend(write.keys.length, write.keys, this.maxInboxLength, write.field, write.value);
    }
    this.backlog += batch.length;
    pipeline.exec().then(
      (results) => {
        this.backlog -= batch.length;
        if (this.state === 'closed') return;
        let fenced = false;
        for (const [error, result] of results ?? []) {
          if (error !== null) this.onError(new Error(`a write to Redis failed: ${error.message}`, { cause: error }));
          else if (result === -1) fenced = true;
        }
        if (fenced) this.fence(this.lostReason('its lease had expired when it wrote'));
      },
      (error: unknown) => {
        this.backlog -= batch.length;
        if (this.state !== 'closed') this.onError(new Error(`a write to Redis failed: ${asError(error).message}`, { cause: error }));
      },
    );
  };

  // --- reading -------------------------------------------------------------------------------------------------

  private async read(): Promise<void> {
    const inbox = this.keys.inbox(this.nodeId);
    while (!this.isStopping()) {
      let reply: Array<[string, Array<[string, string[]]>]> | null;
      try {
        reply = await this.reader.xread('COUNT', READ_COUNT, 'BLOCK', READ_BLOCK_MS, 'STREAMS', inbox, this.lastId);
      } catch (error) {
        if (this.isStopping()) return;
        this.onError(new Error(`reading the inbox failed: ${asError(error).message}`, { cause: error }));
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      if (reply === null) continue;
      for (const [, entries] of reply) {
        for (const [id, fields] of entries) {
          this.lastId = id;
          if (this.isStopping()) return;
          this.entry(id, fields);
        }
      }
    }
  }

  private entry(id: string, fields: readonly string[]): void {
    const [name, value] = fields;
    if (fields.length === 2 && name === 'e' && value !== undefined) this.envelope(value);
    else if (fields.length === 2 && name === 'c' && value !== undefined) this.controlEntry(value);
    else if (fields.length === 2 && name === 's' && value !== undefined) this.snapshotPiece(id, value);
    else this.onError(new CodecError(`inbox entry with unexpected fields ${JSON.stringify(fields).slice(0, 80)}`));
  }

  private envelope(text: string): void {
    let envelope;
    try {
      envelope = decodeEnvelope(text);
    } catch (error) {
      this.onError(asError(error));
      return;
    }
    const { origin, seq, event } = envelope;
    if (origin === this.nodeId) return;
    if (seq <= (this.lastSeq.get(origin) ?? 0)) return;
    this.lastSeq.set(origin, seq);
    let delivery = this.remoteDeliveries.get(origin);
    if (delivery === undefined) {
      delivery = { local: false, origin };
      this.remoteDeliveries.set(origin, delivery);
    }
    this.hand({ event, delivery, seq });
  }

  private controlEntry(text: string): void {
    const [kind, node, winner] = text.split(' ');
    if (kind === 'start') return;
    if (node === undefined) {
      this.onError(new CodecError(`malformed control entry ${JSON.stringify(text)}`));
      return;
    }
    if (node === this.nodeId) return;
    switch (kind) {
      case 'hello':
        // A (re)started node: it counts from seq 1 again, and it wants every event from now on.
        this.departed.delete(node);
        this.lastSeq.delete(node);
        this.helloRound.set(node, this.reapRound);
        this.addPeer(node);
        // "ready": this node can give its state to the new one (bootstrap).
        if (this.state === 'open') this.control(node, `welcome ${this.nodeId}${this.canAnswer() ? ' ready' : ''}`);
        return;
      case 'welcome':
        this.addPeer(node);
        if (winner === 'ready') this.readyPeers.add(node);
        this.welcomed(node);
        if (this.welcome !== undefined) {
          this.welcome.awaiting.delete(node);
          if (this.welcome.awaiting.size === 0) this.welcome.resolve();
        }
        return;
      case 'snapshot':
        // "snapshot <requester> <request id>": a joining node asks for this node's state.
        if (winner === undefined) this.onError(new CodecError(`malformed control entry ${JSON.stringify(text)}`));
        else this.answerSnapshot(node, winner);
        return;
      case 'nosnapshot':
        if (winner !== undefined && this.snapshotWait?.peer === node && this.snapshotWait.req === winner) {
          this.snapshotWait.finish(new Error('it cannot give its state now'));
        }
        return;
      case 'bye':
      case 'lost':
        this.forget(node);
        if (kind === 'lost' && winner === this.nodeId) this.hand({ lost: node });
        return;
      default:
        this.onError(new CodecError(`unknown control entry ${JSON.stringify(text)}`));
    }
  }

  /** Delivers a remote event or a loss, or holds it until the first subscribe(). */
  private hand(item: Held): void {
    if (this.held !== undefined) {
      if (this.held.length < this.maxBacklog) this.held.push(item);
      else {
        if (this.joining) this.heldOverflow = true;
        this.onError(new Error('remote events arrived before anyone subscribed, more than maxBacklog: dropped'));
      }
      return;
    }
    if ('lost' in item) {
      for (const listener of this.lostListeners) {
        try {
          listener(item.lost);
        } catch (error) {
          this.onError(new Error(`an onNodeLost listener threw: ${asError(error).message}`, { cause: error }));
        }
      }
      // After the writes those listeners made (the quits of the lost node's sessions).
      this.enqueue({ done: item.lost });
      return;
    }
    for (const listener of this.listeners) {
      try {
        listener(item.event, item.delivery);
      } catch (error) {
        this.onError(new Error(`a listener threw on a remote ${item.event.type} event: ${asError(error).message}`, { cause: error }));
      }
    }
  }

  // --- joining a running network (bootstrap) -------------------------------------------------------------------

  /** Whether this node can give its state: it has joined (nothing held), and core gave a provider. */
  private canAnswer(): boolean {
    return this.state === 'open' && this.provider !== undefined && this.held === undefined && !this.joining;
  }

  /** A joining node asked: the state now (between two events), with the seqs that say what it includes. */
  private answerSnapshot(to: string, req: string): void {
    const provider = this.provider;
    if (!this.canAnswer() || provider === undefined || !/^[A-Za-z0-9]{1,40}$/.test(req)) {
      this.control(to, `nosnapshot ${this.nodeId} ${req}`);
      return;
    }
    let text: string;
    try {
      const vector: Record<string, number> = {};
      for (const [origin, seq] of this.lastSeq) vector[origin] = seq;
      vector[this.nodeId] = this.seq;
      text = JSON.stringify({ v: SNAPSHOT_FRAME_VERSION, from: this.nodeId, req, vector, state: provider() });
    } catch (error) {
      this.onError(new Error(`cannot give this node's state to ${to}: ${asError(error).message}`, { cause: error }));
      this.control(to, `nosnapshot ${this.nodeId} ${req}`);
      return;
    }
    const pieces = splitText(text, SNAPSHOT_PIECE);
    const keys = [this.leaseKey, this.keys.inbox(to)];
    pieces.forEach((piece, index) => {
      this.enqueue({ keys, field: 's', value: `${this.nodeId} ${req} ${index} ${pieces.length} ${piece}` });
    });
  }

  /** An `s` entry: "<from> <req> <index> <count> <text>". Deleted once read: a big state must not sit in the inbox. */
  private snapshotPiece(id: string, value: string): void {
    this.writer.xdel(this.keys.inbox(this.nodeId), id).catch(() => undefined);
    const head: string[] = [];
    let at = 0;
    for (let i = 0; i < 4; i++) {
      const space = value.indexOf(' ', at);
      if (space === -1) break;
      head.push(value.slice(at, space));
      at = space + 1;
    }
    const [from, req, indexText, countText] = head;
    const index = Number(indexText);
    const count = Number(countText);
    const wait = this.snapshotWait;
    if (head.length !== 4 || !Number.isSafeInteger(index) || !Number.isSafeInteger(count) || index < 0 || index >= count) {
      this.onError(new CodecError(`malformed snapshot entry ${JSON.stringify(value.slice(0, 80))}`));
      return;
    }
    // A piece of an answer nobody waits for any more (the request timed out): dropped.
    if (wait === undefined || wait.peer !== from || wait.req !== req) return;
    if (wait.pieces.length === 0) wait.pieces.length = count;
    if (wait.pieces.length !== count || wait.pieces[index] !== undefined) {
      wait.finish(new Error('its answer came in pieces that do not fit together'));
      return;
    }
    wait.pieces[index] = value.slice(at);
    if (++wait.received === count) wait.finish(wait.pieces.join(''));
  }

  /** Asks one node for its state; resolves with the answer's text. */
  private ask(peer: string): Promise<string> {
    const req = randomBytes(6).toString('hex');
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        finish(new Error(`no answer within ${this.snapshotTimeoutMs} ms`));
      }, this.snapshotTimeoutMs);
      const finish = (result: string | Error): void => {
        if (this.snapshotWait?.req !== req) return;
        this.snapshotWait = undefined;
        clearTimeout(timer);
        if (typeof result === 'string') resolve(result);
        else reject(result);
      };
      this.snapshotWait = { peer, req, pieces: [], received: 0, finish };
      this.control(peer, `snapshot ${this.nodeId} ${req}`);
    });
  }

  /**
   * Resolves once every node this one said hello to has welcomed it or gone: from then on every live node sends this
   * one what it publishes, and what it published before sits, in the inbox of the node asked, ahead of the request.
   */
  private allWelcomed(): Promise<void> {
    if (this.unwelcomed.size === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.welcomedWaiter = undefined;
        reject(new Error(`no welcome within ${this.snapshotTimeoutMs} ms from ${[...this.unwelcomed].join(', ')}, which are still live`));
      }, this.snapshotTimeoutMs);
      this.welcomedWaiter = () => {
        clearTimeout(timer);
        this.welcomedWaiter = undefined;
        resolve();
      };
    });
  }

  private welcomed(node: string): void {
    this.unwelcomed.delete(node);
    if (this.unwelcomed.size === 0) this.welcomedWaiter?.();
  }

  /** Bootstrap cannot go on (the bus stopped): whatever it waits for fails now. */
  private abortJoin(): void {
    this.snapshotWait?.finish(new Error('the bus stopped'));
    this.welcomedWaiter?.();
  }

  // --- membership ----------------------------------------------------------------------------------------------

  private addPeer(node: string): void {
    if (this.peers.has(node)) return;
    this.peers.add(node);
    this.broadcastKeys = [this.leaseKey, ...[...this.peers].map((id) => this.keys.inbox(id))];
  }

  private forget(node: string): void {
    this.departed.add(node);
    this.helloRound.delete(node);
    this.lastSeq.delete(node);
    this.remoteDeliveries.delete(node);
    this.readyPeers.delete(node);
    this.welcomed(node);
    if (this.snapshotWait?.peer === node) this.snapshotWait.finish(new Error('it left the network'));
    if (this.peers.delete(node)) this.broadcastKeys = [this.leaseKey, ...[...this.peers].map((id) => this.keys.inbox(id))];
    if (this.welcome?.awaiting.delete(node) === true && this.welcome.awaiting.size === 0) this.welcome.resolve();
  }

  /** Registers, starts reading, learns the live nodes and says hello; resolves when they welcomed it (or leaseMs). */
  private async start(): Promise<void> {
    const id = await this.writer.natterStart(
      this.leaseKey,
      this.keys.nodes,
      this.keys.inbox(this.nodeId),
      this.keys.lost,
      this.nodeId,
      this.leaseValue(),
      this.leaseMs,
    );
    if (id === null) {
      throw new Error(
        `node id ${this.nodeId} is in use in network ${this.keys.prefix.slice(0, -1)}, or a lost node of that id is not cleaned up yet: use another id`,
      );
    }
    this.lastId = id;
    this.up.writer = this.writer.status === 'ready';
    this.up.reader = this.reader.status === 'ready';
    for (const [role, redis] of [
      ['writer', this.writer],
      ['reader', this.reader],
    ] as const) {
      redis.on('ready', () => {
        this.up[role] = true;
        this.connectionChanged();
      });
      redis.on('close', () => {
        this.up[role] = false;
        this.connectionChanged();
      });
    }
    void this.read();
    await this.reap();
    const awaiting = new Set(this.peers);
    for (const peer of awaiting) {
      this.unwelcomed.add(peer);
      this.control(peer, `hello ${this.nodeId}`);
    }
    this.timers.push(
      setInterval(() => void this.renew(), Math.max(1, Math.floor(this.leaseMs / 3))),
      setInterval(() => void this.reap(), Math.max(1, Math.floor(this.leaseMs / 2))),
    );
    for (const timer of this.timers) timer.unref();
    if (awaiting.size === 0) return;
    await new Promise<void>((resolve) => {
      const timeout = setTimeout(() => {
        this.onError(new Error(`no welcome within ${this.leaseMs} ms from ${[...awaiting].join(', ')}: they may be dying`));
        resolve();
      }, this.leaseMs);
      this.welcome = {
        awaiting,
        resolve: () => {
          clearTimeout(timeout);
          resolve();
        },
      };
    });
    this.welcome = undefined;
  }

  private leaseValue(): string {
    return JSON.stringify({ startedAt: this.startedAt, pid: process.pid, host: hostname(), ...this.status });
  }

  /** Renews the lease now; while a renewal is on its way, asks it to go once more and returns it. */
  private renew(): Promise<void> {
    if (!this.isOpen()) return Promise.resolve();
    if (this.renewal !== undefined) {
      this.renewAgain = true;
      return this.renewal;
    }
    this.renewal = this.renewLoop().finally(() => {
      this.renewal = undefined;
    });
    return this.renewal;
  }

  private async renewLoop(): Promise<void> {
    try {
      // Once more when setStatus() changed the value, or a reconnect asked, while a renewal was on its way.
      do {
        this.renewAgain = false;
        const ok = await this.writer.set(this.leaseKey, this.leaseValue(), 'PX', this.leaseMs, 'XX');
        if (ok === null) this.fence(this.lostReason('its lease had expired when it renewed it'));
      } while (this.shouldRenewAgain());
    } catch (error) {
      if (this.isOpen()) this.onError(new Error(`renewing the lease failed: ${asError(error).message}`, { cause: error }));
    }
  }

  private shouldRenewAgain(): boolean {
    return this.renewAgain && this.isOpen();
  }

  /** Learns the live nodes, and reaps the dead ones (see REAP). */
  private async reap(): Promise<void> {
    if (!this.isOpen() || this.reaping) return;
    this.reaping = true;
    const round = ++this.reapRound;
    try {
      const [live, , alive] = await this.writer.natterReap(this.keys.nodes, this.keys.lost, this.keys.prefix, this.nodeId, this.maxInboxLength);
      if (!this.isOpen()) return;
      if (alive === 0) {
        this.fence(this.lostReason('its lease had expired'));
        return;
      }
      const next = new Set<string>();
      for (const id of live) if (id !== this.nodeId && !this.departed.has(id)) next.add(id);
      for (const [id, said] of this.helloRound) {
        if (said >= round) next.add(id);
        else this.helloRound.delete(id);
      }
      const listed = new Set(live);
      for (const id of this.departed) if (!listed.has(id)) this.departed.delete(id);
      if (next.size !== this.peers.size || [...next].some((id) => !this.peers.has(id))) {
        this.peers.clear();
        for (const id of next) this.peers.add(id);
        this.broadcastKeys = [this.leaseKey, ...[...this.peers].map((id) => this.keys.inbox(id))];
      }
    } catch (error) {
      if (this.isOpen()) this.onError(new Error(`checking the live nodes failed: ${asError(error).message}`, { cause: error }));
    } finally {
      this.reaping = false;
    }
  }

  // --- health --------------------------------------------------------------------------------------------------

  private connectionChanged(): void {
    if (this.state !== 'open') return;
    const up = this.bothUp();
    if (up === this.healthy) return;
    if (up) {
      // Healthy again once the lease is renewed: if it expired meanwhile, this node was declared lost instead.
      void this.renew().then(() => {
        if (this.isOpen() && this.bothUp() && !this.healthy) {
          this.healthy = true;
          this.onHealth(true, `reconnected to Redis at ${shown(this.url)}`);
        }
      });
      void this.reap();
    } else {
      this.healthy = false;
      this.onHealth(
        false,
        `lost the connection to Redis at ${shown(this.url)} (${this.lastConnectionError ?? 'connection closed'}); events are queued ` +
          `until it is back, and if that takes longer than the lease (${this.leaseMs} ms) this node is declared lost`,
      );
    }
  }

  private bothUp(): boolean {
    return this.up.writer && this.up.reader;
  }

  private lostReason(what: string): string {
    return (
      `this node was declared lost: ${what} (Redis unreachable, or the process stalled, for longer than ${this.leaseMs} ms); ` +
      'the other nodes remove its sessions, and nothing it publishes reaches them any more. Restart it with a new node id.'
    );
  }

  /** The final state of a node that can no longer publish to the others (see the file comment). */
  private fence(why: string): void {
    if (this.state !== 'open') return;
    this.state = 'lost';
    for (const timer of this.timers) clearInterval(timer);
    this.timers.length = 0;
    this.queue = [];
    this.healthy = false;
    // Let the others reap it now rather than when the lease runs out (a no-op when it expired already).
    this.writer.del(this.leaseKey).catch(() => undefined);
    this.abortJoin();
    this.onHealth(false, why);
  }

  // --- closing -------------------------------------------------------------------------------------------------

  private async shutdown(): Promise<void> {
    const wasOpen = this.state === 'open';
    this.state = 'closing';
    for (const timer of this.timers) clearInterval(timer);
    this.timers.length = 0;
    this.listeners.length = 0;
    this.lostListeners.length = 0;
    this.held = undefined;
    this.welcome?.resolve();
    this.abortJoin();
    let timeout: NodeJS.Timeout | undefined;
    const leave = async (): Promise<void> => {
      if (wasOpen) {
        for (const peer of this.peers) this.control(peer, `bye ${this.nodeId}`);
        this.flush();
        // Same connection, so after every write queued before.
        await this.writer.natterLeave(this.leaseKey, this.keys.nodes, this.keys.inbox(this.nodeId), this.nodeId);
      }
      await this.writer.quit();
    };
    try {
      await Promise.race([
        leave(),
        new Promise<void>((resolve) => {
          timeout = setTimeout(resolve, this.leaseMs);
        }),
      ]);
    } catch (error) {
      this.onError(new Error(`leaving the network cleanly failed: ${asError(error).message}`, { cause: error }));
    } finally {
      clearTimeout(timeout);
      this.drop();
    }
  }

  /** Stops everything at once, without a word to Redis. */
  private drop(): void {
    this.state = 'closed';
    for (const timer of this.timers) clearInterval(timer);
    this.timers.length = 0;
    this.listeners.length = 0;
    this.lostListeners.length = 0;
    this.held = undefined;
    this.queue = [];
    this.welcome?.resolve();
    this.abortJoin();
    for (const redis of [this.writer, this.reader]) {
      redis.removeAllListeners('ready');
      redis.removeAllListeners('close');
      redis.on('error', () => undefined);
      redis.disconnect();
    }
  }
}

/**
 * Splits a string into pieces of at most `size` UTF-16 units, never between the two halves of a surrogate pair (each
 * piece travels as UTF-8, where half a pair would become U+FFFD).
 */
export function splitText(text: string, size: number): string[] {
  const pieces: string[] = [];
  let start = 0;
  while (start < text.length) {
    let end = Math.min(start + size, text.length);
    const last = text.charCodeAt(end - 1);
    if (end < text.length && end - start > 1 && last >= 0xd800 && last <= 0xdbff) end--;
    pieces.push(text.slice(start, end));
    start = end;
  }
  return pieces.length === 0 ? [''] : pieces;
}

/** Reads an answer to a snapshot request: the state (checked by core) and the seqs per publisher. */
function parseAnswer(text: string): { readonly vector: ReadonlyMap<string, number>; readonly state: unknown } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new CodecError(`snapshot answer is not JSON (${asError(error).message})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new CodecError('snapshot answer is not an object');
  const answer = raw as Record<string, unknown>;
  if (answer['v'] !== SNAPSHOT_FRAME_VERSION) throw new CodecError(`snapshot answer version ${JSON.stringify(answer['v'])} is not ${SNAPSHOT_FRAME_VERSION}`);
  const rawVector = answer['vector'];
  if (typeof rawVector !== 'object' || rawVector === null || Array.isArray(rawVector)) throw new CodecError('snapshot answer has no vector');
  const vector = new Map<string, number>();
  for (const [origin, seq] of Object.entries(rawVector)) {
    if (!Number.isSafeInteger(seq) || (seq as number) < 0) throw new CodecError(`snapshot answer vector: seq of ${origin} is not an integer`);
    vector.set(origin, seq as number);
  }
  return { vector, state: answer['state'] };
}
