/**
 * Several nodes in one process (ARCHITECTURE.md lesson 11, Campfire's test cable adapter): each `hub.bus()` is a node
 * whose events reach the other buses of the hub the way RedisBus carries them between processes, so the cluster
 * behaviour (routes, remote deliveries, node loss) can be tested without Redis. MemoryBus stays the single-node bus.
 *
 * What it keeps of the real transport: the local listeners run inside publish(); other nodes get the event later (a
 * microtask), once each, in publish order; by default the event goes through the codec (encoded once per publish,
 * decoded per node), so a field that would not survive the wire does not survive here either. `kill(nodeId)` is a
 * lost node: it stops, and exactly one surviving bus (the oldest) gets onNodeLost, after every event the dead node
 * had published.
 *
 * Joining a running network (Bus.bootstrap): a bus made with `{ bootstrap: true }` holds what reaches it until
 * bootstrap() has taken a live node's state, then drops the held events that state includes (by publisher and seq, as
 * RedisBus does) and delivers the rest. The state is taken a microtask after the request, so every event published
 * before the joiner existed has reached the node that gives it.
 */
import type { NetworkEvent } from '../core/events.js';
import type { Bus, Delivery, Route } from '../core/ports.js';
import type { NetworkSnapshot } from '../core/snapshot.js';
import { decodeEnvelope, encodeEnvelope } from './codec.js';

export interface MemoryHubOptions {
  /** Carry remote events through encodeEnvelope/decodeEnvelope, as RedisBus does (default true). */
  readonly serialize?: boolean;
}

export interface HubBusOptions {
  /** The node joins a running network: what reaches it is held until bootstrap() (as RedisBusOptions.bootstrap). */
  readonly bootstrap?: boolean;
}

type Listener = (event: NetworkEvent, delivery: Delivery) => void;

/** A node's answer to a joiner: its state, and the last seq it applied from each publisher (itself included). */
interface Answer {
  readonly state: unknown;
  readonly vector: ReadonlyMap<string, number>;
}

type Held = { readonly event: NetworkEvent; readonly delivery: Delivery; readonly seq: number } | { readonly lost: string };

export class MemoryHub {
  /** Live buses in the order they joined. */
  private readonly nodes = new Map<string, HubBus>();
  private readonly serialize: boolean;
  private nextId = 0;

  constructor(options: MemoryHubOptions = {}) {
    this.serialize = options.serialize ?? true;
  }

  /** A new node of this hub; its id must not be in use (default "node-<n>"). */
  bus(nodeId?: string, options: HubBusOptions = {}): Bus {
    const id = nodeId ?? `node-${++this.nextId}`;
    if (this.nodes.has(id)) throw new Error(`node id ${id} is in use`);
    const bus = new HubBus(id, this, options.bootstrap === true);
    this.nodes.set(id, bus);
    return bus;
  }

  /** The ids of the live nodes, in the order they joined. */
  liveNodes(): string[] {
    return [...this.nodes.keys()];
  }

  /**
   * The node dies without a word (kill -9): it stops sending and receiving, and exactly one surviving node, the
   * oldest, is told through onNodeLost once the events it had published were delivered.
   */
  kill(nodeId: string): void {
    const dead = this.nodes.get(nodeId);
    if (dead === undefined) return;
    dead.stop();
    this.nodes.delete(nodeId);
    // A microtask queued now runs after the deliveries the dead node queued before it died.
    queueMicrotask(() => {
      const survivor = this.nodes.values().next().value;
      survivor?.nodeLost(nodeId);
    });
  }

  /** @internal Called by a bus: fan an event out to the other nodes (all of them, or those of the route). */
  send(from: HubBus, seq: number, event: NetworkEvent, route: Route): void {
    let payload: string | undefined;
    const deliver = (to: HubBus): void => {
      if (to === from) return;
      if (this.serialize) payload ??= encodeEnvelope({ origin: from.nodeId, seq, event });
      const text = payload;
      queueMicrotask(() => {
        // Decoding our own encoding cannot fail; if it does the codec is broken and the test must see it.
        to.receive(text === undefined ? event : decodeEnvelope(text).event, from.nodeId, seq);
      });
    };
    if (route === undefined) {
      for (const to of this.nodes.values()) deliver(to);
    } else {
      for (const id of route.nodes) {
        const to = this.nodes.get(id);
        if (to !== undefined) deliver(to);
      }
    }
  }

  /** @internal The live nodes, oldest first, that can give their state to a joiner now. */
  readyPeers(of: HubBus): HubBus[] {
    return [...this.nodes.values()].filter((bus) => bus !== of && bus.ready());
  }

  /**
   * @internal Asks a node for its state. It answers a microtask later (after every delivery queued before the ask,
   * as a stream would order them), and the answer crosses the "wire" as JSON when the hub serializes.
   */
  ask(peer: HubBus): Promise<Answer | undefined> {
    return new Promise((resolve) => {
      queueMicrotask(() => {
        const answer = peer.answer();
        if (answer === undefined || !this.serialize) {
          resolve(answer);
          return;
        }
        const text = JSON.stringify(answer.state);
        queueMicrotask(() => {
          resolve({ state: JSON.parse(text) as unknown, vector: answer.vector });
        });
      });
    });
  }

  /** @internal A bus closed cleanly: no onNodeLost. */
  leave(bus: HubBus): void {
    if (this.nodes.get(bus.nodeId) === bus) this.nodes.delete(bus.nodeId);
  }
}

class HubBus implements Bus {
  private readonly listeners: Listener[] = [];
  private readonly lostListeners: Array<(nodeId: string) => void> = [];
  private readonly local: Delivery;
  private readonly remote = new Map<string, Delivery>();
  private seq = 0;
  private stopped = false;
  /** The last seq applied from each other node. */
  private readonly lastSeq = new Map<string, number>();
  private provider: (() => NetworkSnapshot) | undefined;
  /** What reached a joining node before bootstrap() took a state; undefined once it has. */
  private held: Held[] | undefined;
  private bootstrapping = false;

  constructor(
    readonly nodeId: string,
    private readonly hub: MemoryHub,
    joining: boolean,
  ) {
    this.local = { local: true, origin: nodeId };
    if (joining) this.held = [];
  }

  publish(event: NetworkEvent, route?: Route): void {
    if (this.stopped) return;
    this.hub.send(this, ++this.seq, event, route);
    for (const listener of this.listeners) listener(event, this.local);
  }

  subscribe(listener: Listener): void {
    if (!this.stopped) this.listeners.push(listener);
  }

  onNodeLost(listener: (nodeId: string) => void): void {
    if (!this.stopped) this.lostListeners.push(listener);
  }

  onSnapshotRequest(provide: () => NetworkSnapshot): void {
    if (!this.stopped) this.provider = provide;
  }

  async bootstrap(apply: (snapshot: unknown) => void): Promise<boolean> {
    const held = this.held;
    if (held === undefined || this.bootstrapping) {
      throw new Error(`node ${this.nodeId} was not made with { bootstrap: true }, or bootstraps already: events may have been applied before the state`);
    }
    this.bootstrapping = true;
    const peers = this.hub.readyPeers(this);
    let answer: Answer | undefined;
    for (const peer of peers) {
      answer = await this.hub.ask(peer);
      if (answer !== undefined || this.stopped) break;
    }
    if (this.stopped) return false;
    if (answer === undefined && peers.length > 0) {
      throw new Error(`no node gave its state (asked ${peers.map((peer) => peer.nodeId).join(', ')})`);
    }
    let kept = held;
    if (answer !== undefined) {
      apply(answer.state);
      const { vector } = answer;
      for (const [origin, seq] of vector) if (origin !== this.nodeId && seq > (this.lastSeq.get(origin) ?? 0)) this.lastSeq.set(origin, seq);
      kept = held.filter((item) => 'lost' in item || item.seq > (vector.get(item.delivery.origin) ?? 0));
    }
    this.held = undefined;
    for (const item of kept) this.hand(item);
    return answer !== undefined;
  }

  close(): Promise<void> {
    this.stop();
    this.hub.leave(this);
    return Promise.resolve();
  }

  /** @internal */
  stop(): void {
    this.stopped = true;
    this.listeners.length = 0;
    this.lostListeners.length = 0;
  }

  /** @internal Whether it can give its state: it has a provider and has joined itself. */
  ready(): boolean {
    return !this.stopped && this.provider !== undefined && this.held === undefined;
  }

  /** @internal The state this node has applied, and the seqs that say what it includes. */
  answer(): Answer | undefined {
    const provider = this.provider;
    if (!this.ready() || provider === undefined) return undefined;
    const vector = new Map(this.lastSeq);
    vector.set(this.nodeId, this.seq);
    return { state: provider(), vector };
  }

  /** @internal */
  receive(event: NetworkEvent, origin: string, seq: number): void {
    if (this.stopped) return;
    if (seq <= (this.lastSeq.get(origin) ?? 0)) return;
    this.lastSeq.set(origin, seq);
    let delivery = this.remote.get(origin);
    if (delivery === undefined) {
      delivery = { local: false, origin };
      this.remote.set(origin, delivery);
    }
    this.hand({ event, delivery, seq });
  }

  /** @internal */
  nodeLost(nodeId: string): void {
    if (this.stopped) return;
    this.remote.delete(nodeId);
    this.lastSeq.delete(nodeId);
    this.hand({ lost: nodeId });
  }

  private hand(item: Held): void {
    if (this.held !== undefined) {
      this.held.push(item);
      return;
    }
    if ('lost' in item) for (const listener of this.lostListeners) listener(item.lost);
    else for (const listener of this.listeners) listener(item.event, item.delivery);
  }
}
