/** A room (an IRC channel), its members with their roles, and its modes and lists. */
import type { Route } from './ports.js';
import type { Session } from './session.js';

/**
 * Member roles, highest wins (Modern IRC "Channel membership prefixes"): owner ~q, admin &a, operator @o,
 * half-operator %h, voice +v. A member's `prefixes` is a bitmask of (1 << rank).
 */
export const Rank = { none: 0, voice: 1, halfop: 2, op: 3, admin: 4, owner: 5 } as const;
export type Rank = (typeof Rank)[keyof typeof Rank];

export interface RankDef {
  readonly rank: Rank;
  readonly letter: string;
  readonly prefix: string;
}

/** Highest first, as PREFIX=(qaohv)~&@%+ lists them. */
export const RANKS: readonly RankDef[] = [
  { rank: Rank.owner, letter: 'q', prefix: '~' },
  { rank: Rank.admin, letter: 'a', prefix: '&' },
  { rank: Rank.op, letter: 'o', prefix: '@' },
  { rank: Rank.halfop, letter: 'h', prefix: '%' },
  { rank: Rank.voice, letter: 'v', prefix: '+' },
];

export function rankByLetter(letter: string): RankDef | undefined {
  return RANKS.find((r) => r.letter === letter);
}

export function rankByPrefix(prefix: string): RankDef | undefined {
  return RANKS.find((r) => r.prefix === prefix);
}

export class Membership {
  /** Bitmask of (1 << rank). */
  prefixes = 0;
  constructor(
    readonly session: Session,
    readonly channel: Channel,
    /** Seconds since the epoch. */
    readonly joinedAt: number,
    /** Milliseconds since the epoch: where history "since they joined" begins. */
    readonly joinedAtMs = joinedAt * 1000,
  ) {}

  get highestRank(): Rank {
    for (const def of RANKS) if ((this.prefixes & (1 << def.rank)) !== 0) return def.rank;
    return Rank.none;
  }

  has(rank: Rank): boolean {
    return (this.prefixes & (1 << rank)) !== 0;
  }

  /** "@" or, with multi-prefix, "~@+". */
  prefixString(all: boolean): string {
    let out = '';
    for (const def of RANKS) {
      if ((this.prefixes & (1 << def.rank)) !== 0) {
        out += def.prefix;
        if (!all) break;
      }
    }
    return out;
  }
}

export interface ListEntry {
  readonly mask: string;
  readonly setBy: string;
  /** Seconds since the epoch. */
  readonly setAt: number;
}

export type ListMode = 'b' | 'e' | 'I';

export class ChannelModes {
  noExternal = true;
  topicLocked = true;
  secret = false;
  inviteOnly = false;
  moderated = false;
  key: string | undefined = undefined;
  limit: number | undefined = undefined;

  /** "+ntk" and its parameters; the key is shown only to members, as most servers do. */
  describe(showKey: boolean): string[] {
    let letters = '+';
    const params: string[] = [];
    if (this.inviteOnly) letters += 'i';
    if (this.key !== undefined) {
      letters += 'k';
      params.push(showKey ? this.key : '*');
    }
    if (this.limit !== undefined) {
      letters += 'l';
      params.push(String(this.limit));
    }
    if (this.moderated) letters += 'm';
    if (this.noExternal) letters += 'n';
    if (this.secret) letters += 's';
    if (this.topicLocked) letters += 't';
    return [letters, ...params];
  }
}

/** A role held by an account in a registered room (ChanServ AMODE, or a MODE on a logged-in member). */
export interface AccountRole {
  readonly rank: Rank;
  readonly accountName: string;
}

/**
 * What makes a room registered (docs/chanserv.md): its founder, who is always its owner, and the roles of other
 * accounts, re-applied when they join or log in. A cache of the store's rows, loaded at start and changed only by
 * network.apply() after the store write was awaited, so JOIN and PRIVMSG never wait on the store.
 */
export class RoomRegistration {
  /** accountId -> role; never holds the founder, whose owner role is implicit. */
  readonly roles = new Map<number, AccountRole>();
  /** Who sees the room's past messages: everything, or members only what came after they joined; null follows the server. */
  history: 'everything' | 'joined' | null = null;

  constructor(
    public founderId: number,
    public founderName: string,
    /** Milliseconds since the epoch. */
    readonly registeredAt: number,
  ) {}

  /** The role an account holds here: owner for the founder, none for no account. */
  roleOf(accountId: number | undefined): Rank {
    if (accountId === undefined) return Rank.none;
    if (accountId === this.founderId) return Rank.owner;
    return this.roles.get(accountId)?.rank ?? Rank.none;
  }
}

export function isRank(value: number): value is Rank {
  return Number.isInteger(value) && value >= Rank.voice && value <= Rank.owner;
}

export class Channel {
  topic = '';
  topicSetBy = '';
  topicSetAt = 0;
  readonly members = new Map<Session, Membership>();
  readonly modes = new ChannelModes();
  readonly lists: Record<ListMode, ListEntry[]> = { b: [], e: [], I: [] };
  /**
   * Session ids invited by a half-operator or above: the invitation lets its holder past +i, +k, +l and +b once
   * and is used up by the JOIN. Keyed by session, not nick, so whoever takes the nick later does not inherit it.
   */
  readonly invited = new Set<string>();
  /** Set while the room is registered: it then outlives its last member (docs/rooms.md "Registered rooms"). */
  registration: RoomRegistration | undefined = undefined;
  /**
   * The nodes that have members here (Session.node), kept by network.apply() as members come and go, so routing a
   * message to them (Network.publish) costs nothing per member. Read by the bus inside publish(), never kept.
   */
  readonly nodes = new Set<string>();
  /** How many members each node in `nodes` has. */
  readonly membersPerNode = new Map<string, number>();
  /** The route of the room's messages when the sender's node has members here: every node in `nodes`. */
  readonly route: Route = { nodes: this.nodes };

  constructor(
    readonly name: string,
    readonly nameFolded: string,
    /** Seconds since the epoch. */
    readonly createdAt: number,
  ) {}
}
