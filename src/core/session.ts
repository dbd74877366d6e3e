/**
 * A Session is one connection's user on the network (not an Account, which is a login, and not a Client,
 * which is our client program). Sessions of other nodes are mirrored without a link.
 */
import type { Outbound } from './outbound.js';
import type { Channel, Membership } from './channel.js';

/** The connection behind a local session. Implemented by net/; core only queues messages on it. */
export interface SessionLink {
  send(message: Outbound): void;
  /** Sends ERROR :Closing Link and closes once the queue is written. */
  close(reason: string): void;
}

export const UserMode = {
  invisible: 1 << 0,
  wallops: 1 << 1,
  oper: 1 << 2,
} as const;

export const USER_MODE_LETTERS: ReadonlyArray<readonly [string, number]> = [
  ['i', UserMode.invisible],
  ['o', UserMode.oper],
  ['w', UserMode.wallops],
];

export class Session {
  nick = '*';
  nickFolded = '';
  user = '';
  realname = '';
  /** nick!user@host, kept current so every message reuses one string. */
  prefix = '*';
  registered = false;
  /** Enabled capability bits (protocol/caps.ts). */
  caps = 0;
  /** Version given with CAP LS (0 before any, 301 for a bare CAP LS). */
  capVersion = 0;
  /** True between CAP LS/REQ and CAP END: registration waits for it. */
  capNegotiating = false;
  modes = 0;
  away: string | undefined = undefined;
  operName: string | undefined = undefined;
  /** The account this session is logged in to (its display name), if any. */
  account: string | undefined = undefined;
  accountId: number | undefined = undefined;
  /** Connected over TLS. */
  secure = false;
  /** SHA-256 of the TLS client certificate, lowercase hex, for SASL EXTERNAL. */
  certfp: string | undefined = undefined;
  readonly channels = new Map<Channel, Membership>();
  /** Seconds since the epoch. */
  readonly signonAt: number;
  /** Seconds since the epoch of the last PRIVMSG/NOTICE sent, for WHOIS idle. */
  lastSpokeAt: number;
  /** Set by fan-out to dedupe recipients of one event (QUIT, NICK) without allocating a Set. */
  deliveryMark = 0;

  constructor(
    readonly id: string,
    public host: string,
    readonly ip: string,
    /** Undefined for a session mirrored from another node. */
    readonly link: SessionLink | undefined,
    now: number,
  ) {
    this.signonAt = now;
    this.lastSpokeAt = now;
  }

  get isOper(): boolean {
    return (this.modes & UserMode.oper) !== 0;
  }

  hasCap(bit: number): boolean {
    return (this.caps & bit) !== 0;
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
