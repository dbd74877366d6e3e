/**
 * A Session is a user on the network: one nick, its rooms, modes and presence (not an Account, which is a login,
 * and not a Client, which is our client program). It is seen through one or more Devices, the connections of the
 * user: several when one account is used from a laptop and a phone at once (issue 5, multi-device, as Ergo's
 * multiclient). Sessions of other nodes are mirrored without devices.
 */
import type { Outbound } from './outbound.js';
import type { Channel, Membership } from './channel.js';

/** The connection behind a local session. Implemented by net/; core only queues messages on it. */
export interface SessionLink {
  send(message: Outbound): void;
  /**
   * Sends with tags of this delivery only (label=..., batch=...), escaped and ';'-joined, placed before the
   * message's own tags; '' for none. Serialized for this one connection, not cached.
   */
  sendTagged(message: Outbound, tags: string): void;
  /** Sends ERROR :Closing Link and closes once the queue is written. */
  close(reason: string): void;
}

export const UserMode = {
  invisible: 1 << 0,
  wallops: 1 << 1,
  oper: 1 << 2,
  /** IRCv3 bot-mode: the user is a bot (+B, ISUPPORT BOT=B). */
  bot: 1 << 3,
} as const;

export const USER_MODE_LETTERS: ReadonlyArray<readonly [string, number]> = [
  ['i', UserMode.invisible],
  ['o', UserMode.oper],
  ['w', UserMode.wallops],
  ['B', UserMode.bot],
];

/** One connection of a session, with what was negotiated on it: caps are per connection, the nick is not. */
export class Device {
  /** Enabled capability bits (protocol/caps.ts). */
  caps = 0;
  /** Version given with CAP LS (0 before any, 301 for a bare CAP LS). */
  capVersion = 0;
  /** True between CAP LS/REQ and CAP END: registration waits for it. */
  capNegotiating = false;
  /** Connected over TLS. */
  secure = false;
  /** SHA-256 of the TLS client certificate, lowercase hex, for SASL EXTERNAL. */
  certfp: string | undefined = undefined;

  constructor(
    readonly id: string,
    readonly link: SessionLink,
  ) {}

  hasCap(bit: number): boolean {
    return (this.caps & bit) !== 0;
  }
}

export class Session {
  nick = '*';
  nickFolded = '';
  user = '';
  realname = '';
  /** nick!user@host, kept current so every message reuses one string. */
  prefix = '*';
  registered = false;
  /**
   * The session's home node (Bus.nodeId): where its connection is. Set when the connection is taken, and from the
   * UserIntro for another node's session. Its messages are routed to the nodes of their recipients (issue 9).
   */
  node = '';
  /**
   * Other nodes with devices of this session (multi-device across nodes, issue 9): an account's second device that
   * connected to another node joins the user there. Messages for the user are routed to these nodes too.
   */
  readonly otherNodes = new Set<string>();
  /** This node's connections of the session; empty for a session of another node. */
  readonly devices: Device[] = [];
  modes = 0;
  away: string | undefined = undefined;
  operName: string | undefined = undefined;
  /** The account this session is logged in to (its display name), if any. */
  account: string | undefined = undefined;
  accountId: number | undefined = undefined;
  /** Connected over TLS (its first connection was), for WHOIS. */
  secure = false;
  readonly channels = new Map<Channel, Membership>();
  /** The rooms holding an invitation of this session (Channel.invited), so that leaving the network clears them. */
  readonly invitedTo = new Set<Channel>();
  /** Seconds since the epoch. */
  readonly signonAt: number;
  /** Milliseconds since the epoch when this node accepted the connection (a guest's history starts there). */
  connectedAtMs = 0;
  /** Seconds since the epoch of the last PRIVMSG/NOTICE sent, for WHOIS idle. */
  lastSpokeAt: number;
  /**
   * The last message of this user still waiting for the store before delivery (core/messaging.ts): a message that
   * is not stored (typing, STATUSMSG) is delivered after it, so what one user sends arrives in the order sent.
   */
  deliveryTail: Promise<void> | undefined = undefined;
  /** The last such message that is not stored, still waiting: a stored message after it waits for it too. */
  unstoredTail: Promise<void> | undefined = undefined;
  /** Set by fan-out to dedupe recipients of one event (QUIT, NICK) without allocating a Set. */
  deliveryMark = 0;

  constructor(
    readonly id: string,
    public host: string,
    readonly ip: string,
    now: number,
  ) {
    this.signonAt = now;
    this.lastSpokeAt = now;
  }

  /** True when the session has a connection on this node (it is not another node's mirror). */
  get isLocal(): boolean {
    return this.devices.length > 0;
  }

  /** Sends to every connection of the session. */
  send(message: Outbound): void {
    const { devices } = this;
    for (let i = 0; i < devices.length; i++) devices[i]?.link.send(message);
  }

  /** Sends to the connections that negotiated `cap`. */
  sendIfCap(message: Outbound, cap: number): void {
    const { devices } = this;
    for (let i = 0; i < devices.length; i++) {
      const device = devices[i];
      if (device !== undefined && (device.caps & cap) !== 0) device.link.send(message);
    }
  }

  /** Sends `withCap` to the connections that negotiated `cap` and `without` to the others (extended-join). */
  sendByCap(withCap: Outbound, without: Outbound, cap: number): void {
    const { devices } = this;
    for (let i = 0; i < devices.length; i++) {
      const device = devices[i];
      if (device !== undefined) device.link.send((device.caps & cap) !== 0 ? withCap : without);
    }
  }

  /** Closes every connection of the session (KILL, GHOST, a dropped account's kick-out). */
  closeAll(reason: string): void {
    for (const device of [...this.devices]) device.link.close(reason);
  }

  get isOper(): boolean {
    return (this.modes & UserMode.oper) !== 0;
  }

  updatePrefix(): void {
    this.prefix = `${this.nick}!${this.user}@${this.host}`;
  }

  modeString(): string {
    let out = '+';
    for (const [letter, bit] of USER_MODE_LETTERS) if ((this.modes & bit) !== 0) out += letter;
    return out;
  }
}
