/** What core needs from the outside world, as interfaces. cli/main.ts chooses the implementations. */
import type { NetworkEvent } from './events.js';
import type { NetworkSnapshot } from './snapshot.js';

/** How an event reached this node's listener. */
export interface Delivery {
  /** Published by this node (applied synchronously inside publish()); false for an event from another node. */
  readonly local: boolean;
  /** The node that published it. */
  readonly origin: string;
}

/**
 * Where an event must go besides the publishing node: every node (the default, for state every mirror keeps), or only
 * these nodes (a message, to the nodes that have recipients). The publishing node always applies its own event.
 */
export type Route = { readonly nodes: ReadonlySet<string> } | undefined;

/**
 * Fans domain events out to every node, this one included (ARCHITECTURE.md lesson 11). The local node's listeners run
 * synchronously inside publish(), so after publish() returns this node's state already reflects the event. Other
 * nodes get each event exactly once, in the order their publisher published them.
 */
export interface Bus {
  /** This node's id: unique among the nodes of a network for as long as this process runs. */
  readonly nodeId: string;
  publish(event: NetworkEvent, route?: Route): void;
  subscribe(listener: (event: NetworkEvent, delivery: Delivery) => void): void;
  /**
   * Called once per node that died (its lease expired), on exactly one surviving node, which then removes that node's
   * sessions from the network. The in-process bus never calls it.
   */
  onNodeLost(listener: (nodeId: string) => void): void;
  /**
   * How this node answers a node that joins the network while this one runs (issue 9, docs/cluster.md
   * "Joining a running network"): `provide` returns the state this node has applied (Network.exportState). The bus
   * calls it between two events and sends it with what it needs to place it in the stream of events. A node answers
   * only once it has joined itself (its own bootstrap() is over).
   */
  onSnapshotRequest(provide: () => NetworkSnapshot): void;
  /**
   * Joins a network that is running: takes the state of one live node that joined before this one, hands it to
   * `apply` (Network.importState, which validates it: it comes off the wire), then delivers the remote events the
   * copy does not include, each once, in order. Remote events and node losses that arrive before are held until
   * then. Resolves true when a node gave its state, false when none could (this node starts the network, or every
   * other node is joining too): the network is then what this node has. Rejects when nodes that could give it did
   * not, or when `apply` throws: this node's mirror would be wrong, so it must not serve.
   * Called once, before this node takes clients; a bus without other nodes resolves false.
   */
  bootstrap(apply: (snapshot: unknown) => void): Promise<boolean>;
  close(): Promise<void>;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

/**
 * The decisions two nodes must never both make (issue 9): two sessions holding one nick, two founders of one room.
 * Core asks before it publishes the event that acts on the answer. The in-process implementation
 * (core/local-claims.ts) answers at once, so one process keeps today's timing (no await on the command path);
 * RedisClaims (bus/redis-claims.ts) answers once its Lua script ran, atomically for the whole network.
 *
 * Session ids are "<node>.<n>" (net/server.ts): an implementation reads a claim's node from its session id, for
 * releaseNode. Names are casefolded. A claim asked again by its holder is kept (true). Releases never reject: an
 * implementation reports its own errors.
 */
export interface Claims {
  /**
   * Takes the nick for this session, or keeps it when the session holds it already; false when another session holds
   * it. In the same step it lets go of `previous` (the session's old nick), if the session holds that; a refusal
   * keeps `previous`.
   */
  claimNick(folded: string, sessionId: string, previous?: string): boolean | Promise<boolean>;
  /** Lets go of the nick if this session holds it (quit, or a claim that turned out not to be needed). */
  releaseNick(folded: string, sessionId: string): void | Promise<void>;
  /** The first JOIN of a room: true for exactly one session network-wide, until the room is released. */
  claimRoom(folded: string, sessionId: string): boolean | Promise<boolean>;
  /** The room emptied: released by the node that published the event that emptied it. */
  releaseRoom(folded: string): void | Promise<void>;
  /** Everything held by sessions of this node: the survivor that handles a lost node (Bus.onNodeLost) calls it. */
  releaseNode(nodeId: string): void | Promise<void>;
}
