/**
 * Who may read which history, and from when (issue 5): a room's history to its members, everything or only what
 * came after they joined (the room's choice, else the server's); a private conversation to its two parties only,
 * and to a guest (no account) only what was said since they connected, since a nick is not an identity.
 */
import type { Channel } from './channel.js';
import { FailError } from './errors.js';
import type { HistoryPoint, HistoryQuery, HistoryStore, RoomJoinStore, StoredHistoryItem } from './history.js';
import { conversationKey, MAX_SEQ, partyKey } from './history.js';
import { partyOf } from './messaging.js';
import type { Network } from './network.js';
import type { Session } from './session.js';
import type { AccountStore } from './store.js';

export type HistoryReader = HistoryStore & RoomJoinStore & Pick<AccountStore, 'findAccount'>;

/** A target the session may read: its history key, the name to show, and the earliest time it may see. */
export interface ReadableTarget {
  readonly key: string;
  readonly display: string;
  readonly notBefore: number | undefined;
  readonly channel: Channel | undefined;
}

export function roomHistoryVisibility(network: Network, channel: Channel): 'everything' | 'joined' {
  return channel.registration?.history ?? network.settings.history.visibility;
}

/**
 * Resolves a CHATHISTORY target for a session, or throws FAIL INVALID_TARGET: rooms only for their members, nicks
 * (online or an account's name) for the conversation with them.
 */
export async function readableTarget(network: Network, store: HistoryReader, session: Session, subcommand: string, target: string): Promise<ReadableTarget> {
  const invalid = (): FailError => new FailError('CHATHISTORY', 'INVALID_TARGET', [subcommand, target], 'Messages could not be retrieved: you may not read this target');
  if (target.startsWith('#')) {
    const channel = network.findChannel(target);
    const membership = channel?.members.get(session);
    if (channel === undefined || membership === undefined) throw invalid();
    let notBefore: number | undefined;
    if (roomHistoryVisibility(network, channel) === 'joined') {
      const recorded = session.accountId === undefined ? undefined : await store.roomJoinedAt(session.accountId, channel.nameFolded);
      notBefore = recorded ?? membership.joinedAtMs;
    }
    return { key: channel.nameFolded, display: channel.name, notBefore, channel };
  }
  const other = await otherParty(network, store, target);
  if (other === undefined) throw invalid();
  const mine = partyOf(network, session);
  return {
    key: conversationKey(mine, other.party),
    display: other.display,
    notBefore: session.account === undefined ? session.connectedAtMs : undefined,
    channel: undefined,
  };
}

/** The other party of a private conversation named by nick: whoever holds it now, else the account of that name. */
async function otherParty(network: Network, store: HistoryReader, nick: string): Promise<{ party: string; display: string } | undefined> {
  const online = network.findNick(nick);
  if (online !== undefined) return { party: partyOf(network, online), display: online.nick };
  const folded = network.fold(nick);
  const account = await store.findAccount(folded);
  if (account !== undefined) return { party: partyKey(account.nameFolded, account.nameFolded), display: account.name };
  return { party: partyKey(undefined, folded), display: nick };
}

/** A message reference of CHATHISTORY: "*", "timestamp=...", or "msgid=...". */
export type MessageRef = { readonly kind: 'none' } | { readonly kind: 'time'; readonly time: number } | { readonly kind: 'msgid'; readonly msgid: string };

export function parseMessageRef(subcommand: string, text: string, allowStar: boolean): MessageRef {
  if (text === '*' && allowStar) return { kind: 'none' };
  const equals = text.indexOf('=');
  const kind = equals === -1 ? '' : text.slice(0, equals);
  const value = text.slice(equals + 1);
  if (kind === 'timestamp') {
    const time = Date.parse(value);
    if (/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(value) && Number.isFinite(time)) return { kind: 'time', time };
  } else if (kind === 'msgid' && value !== '') {
    return { kind: 'msgid', msgid: value };
  }
  throw new FailError('CHATHISTORY', 'INVALID_PARAMS', [subcommand, text], 'Messages could not be retrieved: the message reference is not "*", "timestamp=..." or "msgid=..."');
}

/**
 * The place of a reference in the target's order; for a timestamp, `side` says whether the whole millisecond lies
 * before the point ('after' bounds start after it) or after it. Undefined for a msgid not in this target.
 */
async function pointOf(store: HistoryReader, target: string, ref: MessageRef, side: 'start' | 'end'): Promise<HistoryPoint | undefined> {
  if (ref.kind === 'time') return { time: ref.time, seq: side === 'start' ? MAX_SEQ : 0 };
  if (ref.kind === 'msgid') {
    const item = await store.findHistory(target, ref.msgid);
    return item === undefined ? undefined : { time: item.time, seq: item.seq };
  }
  return undefined;
}

const NO_REF: MessageRef = { kind: 'none' };

export interface HistoryRequest {
  readonly subcommand: 'LATEST' | 'BEFORE' | 'AFTER' | 'AROUND' | 'BETWEEN';
  readonly refs: readonly MessageRef[];
  readonly limit: number;
  readonly events: boolean;
}

/** Runs one CHATHISTORY request against a readable target; items ascending. A msgid not found gives no items. */
export async function readHistory(store: HistoryReader, target: ReadableTarget, request: HistoryRequest): Promise<StoredHistoryItem[]> {
  const { limit, events } = request;
  const base = { target: target.key, limit, events, ...(target.notBefore === undefined ? {} : { notBefore: target.notBefore }) };
  const [first = NO_REF, second = NO_REF] = request.refs;
  const query = (fields: Partial<HistoryQuery> & Pick<HistoryQuery, 'direction'>): Promise<StoredHistoryItem[]> => store.queryHistory({ ...base, ...fields });
  switch (request.subcommand) {
    case 'LATEST': {
      if (first.kind === 'none') return query({ direction: 'backward' });
      const after = await pointOf(store, target.key, first, 'start');
      return after === undefined ? [] : query({ direction: 'backward', after });
    }
    case 'BEFORE': {
      const before = await pointOf(store, target.key, first, 'end');
      return before === undefined ? [] : query({ direction: 'backward', before });
    }
    case 'AFTER': {
      const after = await pointOf(store, target.key, first, 'start');
      return after === undefined ? [] : query({ direction: 'forward', after });
    }
    case 'AROUND': {
      const center = await pointOf(store, target.key, first, 'end');
      if (center === undefined) return [];
      // The reference itself and what precedes it, then what follows, about half each.
      const earlier = await query({ direction: 'backward', before: { time: center.time, seq: first.kind === 'msgid' ? center.seq + 1 : center.seq }, limit: Math.ceil(limit / 2) });
      const later = await query({ direction: 'forward', after: { time: center.time, seq: first.kind === 'msgid' ? center.seq : MAX_SEQ }, limit: limit - earlier.length });
      return [...earlier, ...later];
    }
    case 'BETWEEN': {
      const a = await pointOf(store, target.key, first, 'start');
      const b = await pointOf(store, target.key, second, 'end');
      if (a === undefined || b === undefined) return [];
      const ascending = a.time < b.time || (a.time === b.time && a.seq < b.seq);
      if (ascending) return query({ direction: 'forward', after: a, before: b });
      // Counting from the first reference backwards; bounds exclusive on both sides.
      const upper = await pointOf(store, target.key, first, 'end');
      const lower = await pointOf(store, target.key, second, 'start');
      if (upper === undefined || lower === undefined) return [];
      return query({ direction: 'backward', before: upper, after: lower });
    }
  }
}
