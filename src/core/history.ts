/**
 * The history port (issue 5): every room and private message, with its msgid, time and client tags, kept so
 * that CHATHISTORY can page through it and reactions come back with it. Implemented by store/ over Kysely
 * (SQLite and PostgreSQL) under one conformance suite. Rows are ordered by (time, seq): time from the node that
 * accepted the message, seq the store's own insertion counter, so two messages of one millisecond keep their order.
 */

/** What history keeps: messages, reactions (TAGMSG), and for event-playback the room events. */
export type HistoryCommand = 'PRIVMSG' | 'NOTICE' | 'TAGMSG' | 'JOIN' | 'PART' | 'KICK' | 'TOPIC' | 'MODE' | 'QUIT' | 'NICK';

export interface HistoryItem {
  readonly msgid: string;
  /** Milliseconds since the epoch. */
  readonly time: number;
  /**
   * Where it was said: a room's casefolded name ("#chat"), or for a private message the conversation key,
   * the two parties' keys sorted and joined by a space ("a:alice n:bob"); see conversationKey(). The store tells
   * them apart by that space, which a room's name never has.
   */
  readonly target: string;
  readonly command: HistoryCommand;
  /** nick!user@host of the sender (or the server's name). */
  readonly source: string;
  /** The sender's account name, when logged in (account-tag on replay, authorship for redaction). */
  readonly account: string | undefined;
  /** The parameters as sent on the wire, target first ("#Chat", "hello"). */
  readonly params: readonly string[];
  /**
   * The client-only tags (+draft/reply, +draft/react, ...), keys with their '+'; server tags (time, msgid, account)
   * are not kept here. An empty map is kept as none and reads back as undefined.
   */
  readonly tags: ReadonlyMap<string, string> | undefined;
}

/** A place in the (time, seq) order of one target. Both are whole numbers. */
export interface HistoryPoint {
  readonly time: number;
  readonly seq: number;
}

/** Largest seq a store may give; a timestamp bound uses 0 or this to exclude or include its whole millisecond. */
export const MAX_SEQ = Number.MAX_SAFE_INTEGER;

export interface HistoryQuery {
  readonly target: string;
  /** Rows strictly after this point (forward) ... */
  readonly after?: HistoryPoint;
  /** ... and strictly before this one. */
  readonly before?: HistoryPoint;
  /** 'forward': the earliest rows after `after`; 'backward': the latest rows before `before`. */
  readonly direction: 'forward' | 'backward';
  readonly limit: number;
  /** Only rows at or after this time (ms): what the asker is allowed to see. */
  readonly notBefore?: number;
  /** Include JOIN/PART/KICK/TOPIC/MODE/QUIT/NICK rows (draft/event-playback); otherwise only PRIVMSG/NOTICE/TAGMSG. */
  readonly events: boolean;
}

export interface StoredHistoryItem extends HistoryItem {
  readonly seq: number;
}

export interface HistoryTarget {
  readonly target: string;
  /** Time of the latest row in the range asked for. */
  readonly latest: number;
}

export interface RetentionPolicy {
  /** Rows older than this (ms since the epoch) go. */
  readonly olderThan?: number;
  /** At most this many rows per target are kept (the newest). */
  readonly maxPerTarget?: number;
}

export interface HistoryStore {
  /**
   * Resolves once the item is durable (committed). Appends made in one event-loop turn are written together in
   * one transaction (group commit), so the cost of a commit is shared; appends made while that write runs form
   * the next one, written after it, so seq follows the order of the appends.
   *
   * Rejects, and the item is not stored:
   * - at once, with a RangeError, when `time` is not a whole number of milliseconds;
   * - with StoreConflictError when the msgid is already stored (or appears earlier in the same batch): only that
   *   append; the rest of its batch is written, and the stored row is left as it was;
   * - with the error of the write, for every append of the batch, when the write fails as a whole (I/O, a lost
   *   connection, a constraint other than the msgid's): the batch is one transaction, so none of it is stored.
   *   Later batches are still attempted;
   * - at once when the store is closing (after close() was called; appends made before are written first).
   */
  appendHistory(item: HistoryItem): Promise<void>;
  /** Rows in (time, seq) order, ascending, whatever the direction asked for. A limit of 0 or less gives none. */
  queryHistory(query: HistoryQuery): Promise<StoredHistoryItem[]>;
  /** The row with this msgid, if it is in this target. */
  findHistory(target: string, msgid: string): Promise<StoredHistoryItem | undefined>;
  /** Deletes the row with this msgid from this target (redaction); true if there was one. */
  deleteHistory(target: string, msgid: string): Promise<boolean>;
  /**
   * Targets with rows in [from, to] (ms, inclusive) among `rooms` (casefolded names) and the conversations of
   * `party` (a partyKey), newest first (ties by target), at most `limit`. Only PRIVMSG/NOTICE rows count. No rooms
   * and no party: none.
   */
  historyTargets(rooms: readonly string[], party: string | undefined, from: number, to: number, limit: number): Promise<HistoryTarget[]>;
  /**
   * Applies retention, age first, then the count per target (newest by (time, seq) kept); returns how many rows
   * went. A negative maxPerTarget is a RangeError; an empty policy deletes nothing.
   */
  pruneHistory(policy: RetentionPolicy): Promise<number>;
}

/** draft/read-marker: per account and target, the time up to which the account has read. */
export interface ReadMarkerStore {
  /** Milliseconds since the epoch, or undefined when never set. */
  getReadMarker(accountId: number, target: string): Promise<number | undefined>;
  /** Moves the marker forward only; returns the marker now stored (which may be later than `time`). */
  setReadMarker(accountId: number, target: string, time: number): Promise<number>;
}

/**
 * Where an account has been a member of a room since (for rooms showing history "since they joined"), kept across
 * disconnects so that a user coming back sees what they missed; forgotten when they PART or are KICKed.
 */
export interface RoomJoinStore {
  /** Records the join unless one is already recorded; returns the recorded time. */
  recordRoomJoin(accountId: number, room: string, time: number): Promise<number>;
  roomJoinedAt(accountId: number, room: string): Promise<number | undefined>;
  forgetRoomJoin(accountId: number, room: string): Promise<void>;
}

/** A party of a private conversation: its account when logged in, else its nick. Both casefolded. */
export function partyKey(accountFolded: string | undefined, nickFolded: string): string {
  return accountFolded === undefined ? `n:${nickFolded}` : `a:${accountFolded}`;
}

export function conversationKey(a: string, b: string): string {
  return a < b ? `${a} ${b}` : `${b} ${a}`;
}
