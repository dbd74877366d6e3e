/**
 * View-once messages (issue 7, the Natter extension `natter.chat/view-once`, docs/extensions/view-once.md): a
 * PRIVMSG or NOTICE whose content each recipient may see once. The rules live here; the store keeps the content
 * through the ViewOnceStore port, and commands/view-once.ts answers VIEWONCE.
 *
 * - Sending: `@natter.chat/view-once PRIVMSG <target> :<content>`. The content never goes to history (so neither to
 *   CHATHISTORY nor to anything that reads history); it is kept once, with the list of its recipients: the other
 *   members of the room at the time it was sent (for `@#room`, those of that rank), or the one user of a private
 *   message.
 * - A recipient is an account ("a:<account id>", so every device and every later login of the account is the same
 *   recipient, and opening it on one device consumes it for all), or for a guest the session itself (a nick is not
 *   an identity: whoever takes it later must not open what was sent to the previous holder).
 * - A recipient with a connection that negotiated the cap (and message-tags, to see the msgid) gets a sealed
 *   placeholder and opens it with `VIEWONCE OPEN <msgid>`. A recipient none of whose connections can do that gets
 *   the content at once, marked "[view-once] ", and that delivery is its one opening: nothing is kept for it.
 * - Once every recipient has opened it, or `viewOnce.ttlHours` have passed, the message is deleted from the store
 *   (and the uploads it links to, by the caller).
 */
import { Cap } from '../protocol/caps.js';
import { Rank } from './channel.js';
import { FailError } from './errors.js';
import type { MultilineLine, NetworkEvent } from './events.js';
import type { Network } from './network.js';
import { Outbound } from './outbound.js';
import type { Session } from './session.js';
import { UserMode } from './session.js';

/** The tag a client puts on a message to make it view-once, and that marks a sealed message from the server. */
export const VIEW_ONCE_TAG = 'natter.chat/view-once';
/**
 * The client-only spelling. Not the one the spec asks for (the server acts on the tag, so it is not a client-only
 * tag), but honoured too: relayed as a client tag it would deliver, and keep in history, what was meant to be seen once.
 */
export const VIEW_ONCE_CLIENT_TAG = `+${VIEW_ONCE_TAG}`;
/** What a client without the cap sees before the content it gets in the clear. */
export const VIEW_ONCE_MARKER = '[view-once] ';
/** The text of a sealed message: a placeholder, never the content (clients with the cap do not show it). */
export const SEALED_TEXT = '[view-once] sealed message: open it in a client that supports view-once messages';
/** Pending messages one VIEWONCE LIST answers with at most. */
export const VIEW_ONCE_LIST_LIMIT = 500;
/** How many (recipient, msgid) openings a node remembers to answer ALREADY_OPENED rather than NOT_FOUND. */
const OPENINGS_REMEMBERED = 10_000;

// ---- the store port --------------------------------------------------------------------------------

/** A view-once message as the store keeps it. Times are milliseconds since the epoch. */
export interface ViewOnceRecord {
  readonly msgid: string;
  readonly time: number;
  /** When it is deleted whoever has not opened it yet. */
  readonly expiresAt: number;
  readonly command: 'PRIVMSG' | 'NOTICE';
  /** nick!user@host of the sender when it was sent. */
  readonly source: string;
  /** The sender's account (its display name), if logged in. */
  readonly account: string | undefined;
  /** The room as the sender wrote it ("#Room", "@#Room"); undefined for a private message. */
  readonly room: string | undefined;
  /** The content: what the recipient sees once. */
  readonly text: string;
  /** The client tags relayed with it (+draft/reply, +channel-context, ...), never the view-once tag itself. */
  readonly tags: ReadonlyMap<string, string> | undefined;
}

export interface NewViewOnce extends ViewOnceRecord {
  /** Recipient keys (recipientKey()); duplicates count once. */
  readonly recipients: readonly string[];
}

/** A message still waiting for a recipient, without its content (VIEWONCE LIST). */
export type SealedViewOnce = Omit<ViewOnceRecord, 'text'>;

export interface OpenedViewOnce {
  readonly message: ViewOnceRecord;
  /** This recipient was the last: the message is gone from the store. */
  readonly last: boolean;
}

/** A message the store deleted; its text is given so that uploads it links to can go too. */
export interface ViewOnceGone {
  readonly msgid: string;
  readonly account: string | undefined;
  readonly text: string;
}

/** Where view-once content waits for its recipients (store/ implements it for SQLite and PostgreSQL). */
export interface ViewOnceStore {
  /**
   * Keeps the message for its recipients; resolves once it is durable. Rejects with StoreConflictError when the
   * msgid is already kept, and with a RangeError (at once) when there is no recipient or a time is not whole ms.
   */
  createViewOnce(message: NewViewOnce): Promise<void>;
  /**
   * Releases the message to one recipient, once: that recipient is taken off its list in the same transaction, and
   * the message itself is deleted with its last recipient. Undefined (and nothing released) when the msgid is
   * unknown, the recipient is not (or no longer) on its list, or it expired at `now`. Two calls racing for the same
   * recipient (two devices) release it to one of them only.
   */
  openViewOnce(msgid: string, recipient: string, now: number): Promise<OpenedViewOnce | undefined>;
  /** The messages the recipient has not opened and that have not expired at `now`, oldest first, at most `limit`. */
  pendingViewOnce(recipient: string, now: number, limit: number): Promise<SealedViewOnce[]>;
  /** Deletes every message expired at `now` (expiresAt <= now) with its recipients; returns them. */
  sweepViewOnce(now: number): Promise<ViewOnceGone[]>;
}

// ---- per-node state --------------------------------------------------------------------------------

interface ViewOnceState {
  /** "<recipient> <msgid>" -> expiresAt, oldest first: openings this node saw, for ALREADY_OPENED. */
  readonly openings: Map<string, number>;
}

const states = new WeakMap<Network, ViewOnceState>();

function stateOf(network: Network): ViewOnceState {
  let state = states.get(network);
  if (state === undefined) {
    state = { openings: new Map() };
    states.set(network, state);
  }
  return state;
}

/**
 * Who a session is as a recipient: its account, else (a guest) the session. Session ids ("<node>.<n>",
 * net/server.ts) are unique across the network's nodes and, since a node id is new at every start, across
 * restarts, so every node computes the same key for a guest and a later guest never gets an earlier one's messages.
 */
export function recipientKey(network: Network, session: Session): string {
  return session.accountId === undefined ? `g:${session.id}` : `a:${String(session.accountId)}`;
}

/** The sessions on this node that are the recipient `key`. */
function sessionsOf(network: Network, key: string): Iterable<Session> {
  if (key.startsWith('a:')) return network.accountSessions.get(Number(key.slice(2))) ?? [];
  const session = key.startsWith('g:') ? network.sessions.get(key.slice(2)) : undefined;
  return session === undefined ? [] : [session];
}

function rememberOpening(network: Network, key: string, msgid: string, expiresAt: number): void {
  const { openings } = stateOf(network);
  openings.set(`${key} ${msgid}`, expiresAt);
  // Bounded: the oldest openings are forgotten first, and then answered NOT_FOUND, which says as much to a client.
  for (const oldest of openings.keys()) {
    if (openings.size <= OPENINGS_REMEMBERED) break;
    openings.delete(oldest);
  }
}

/** Whether this node saw `key` open `msgid` (or get it in the clear), and the message has not expired since. */
export function wasOpened(network: Network, key: string, msgid: string, now: number): boolean {
  const expiresAt = stateOf(network).openings.get(`${key} ${msgid}`);
  return expiresAt !== undefined && expiresAt > now;
}

/** Forgets openings of messages that have expired (run with the sweep). */
export function forgetExpiredOpenings(network: Network, now: number): void {
  const { openings } = stateOf(network);
  for (const [entry, expiresAt] of openings) if (expiresAt <= now) openings.delete(entry);
}

// ---- sending ---------------------------------------------------------------------------------------

/** Whether a message's tags (as parsed, or as relayed) ask for view-once. */
export function isViewOnce(tags: ReadonlyMap<string, string> | undefined): boolean {
  return tags !== undefined && (tags.has(VIEW_ONCE_TAG) || tags.has(VIEW_ONCE_CLIENT_TAG));
}

/** The tags relayed with a view-once message: the client's, without either spelling of the view-once tag. */
function relayedTags(tags: ReadonlyMap<string, string> | undefined): ReadonlyMap<string, string> | undefined {
  if (tags === undefined) return undefined;
  const relayed = new Map(tags);
  relayed.delete(VIEW_ONCE_TAG);
  relayed.delete(VIEW_ONCE_CLIENT_TAG);
  return relayed.size === 0 ? undefined : relayed;
}

/**
 * Whether the user can open a sealed message: one of its connections negotiated the cap, and message-tags (without
 * which it sees neither the msgid to open nor the tag that says it is sealed). A session of another node has no
 * devices here: it is taken as able, so the content never crosses the bus in the clear for it.
 */
function canOpen(session: Session): boolean {
  if (session.devices.length === 0) return true;
  const needed = Cap.viewOnce | Cap.messageTags;
  return session.devices.some((device) => (device.caps & needed) === needed);
}

export interface Sealed {
  /** What to publish instead of the plain message. */
  readonly event: NetworkEvent;
  /** The store's write, when some recipient gets it sealed; publish only once it resolves. */
  readonly stored: Promise<void> | undefined;
}

/**
 * Turns a room or private message that carries the view-once tag into a sealed one: decides who gets it sealed and
 * who in the clear, and starts keeping the content for the former. Throws FAIL INVALID_VIEWONCE for a TAGMSG (it
 * has no content), a draft/multiline batch (its lines would not be one line in the clear), or without a store.
 */
export function sealViewOnce(network: Network, store: ViewOnceStore | undefined, sender: Session, event: NetworkEvent, lines: readonly MultilineLine[] | undefined): Sealed {
  if (event.type !== 'channelMessage' && event.type !== 'privateMessage') throw new Error(`a ${event.type} event cannot be view-once`);
  const target = event.type === 'channelMessage' ? event.target : (network.sessions.get(event.to)?.nick ?? '*');
  if (lines !== undefined) throw new FailError('BATCH', 'INVALID_VIEWONCE', [target], 'A view-once message is one PRIVMSG or NOTICE, not a multiline batch');
  const { command } = event;
  if (command === 'TAGMSG') throw new FailError('TAGMSG', 'INVALID_VIEWONCE', [target], 'A view-once message is a PRIVMSG or NOTICE: a TAGMSG has no content to hide');
  // Refused rather than sent in the clear: a path that cannot keep the content must not deliver it as a plain message.
  if (store === undefined) throw new FailError(command, 'INVALID_VIEWONCE', [target], 'View-once messages cannot be sent this way');
  const candidates: Session[] = [];
  if (event.type === 'channelMessage') {
    for (const membership of network.channels.get(event.channel)?.members.values() ?? []) {
      if (membership.session === sender) continue;
      if (event.minRank !== Rank.none && membership.highestRank < event.minRank) continue;
      candidates.push(membership.session);
    }
  } else {
    const recipient = network.sessions.get(event.to);
    if (recipient !== undefined) candidates.push(recipient);
  }
  // One decision per recipient, not per session: an account in the room twice (multiclient off) opens it once.
  const byKey = new Map<string, Session[]>();
  for (const session of candidates) {
    const key = recipientKey(network, session);
    const sessions = byKey.get(key);
    if (sessions === undefined) byKey.set(key, [session]);
    else sessions.push(session);
  }
  const sealedFor: string[] = [];
  const plainFor: string[] = [];
  const keys: string[] = [];
  for (const [key, sessions] of byKey) {
    if (sessions.some(canOpen)) {
      keys.push(key);
      for (const session of sessions) sealedFor.push(session.id);
    } else {
      for (const session of sessions) plainFor.push(session.id);
    }
  }
  const expiresAt = event.time + Math.round(network.settings.viewOnce.ttlHours * 3_600_000);
  const tags = relayedTags(event.tags);
  const stored =
    keys.length === 0
      ? undefined
      : store
          .createViewOnce({
            msgid: event.msgid,
            time: event.time,
            expiresAt,
            command,
            source: sender.prefix,
            account: sender.account,
            room: event.type === 'channelMessage' ? event.target : undefined,
            text: event.text,
            tags,
            recipients: keys,
          })
          .catch((error: unknown) => {
            // Whatever logs this rejection must not log the content: a driver's error can quote the row it refused
            // (PostgreSQL's "Failing row contains (...)"), so only its class and code go on.
            throw new ViewOnceStoreError(error);
          });
  return {
    event: {
      type: 'viewOnceMessage',
      from: event.from,
      device: event.device,
      command,
      channel: event.type === 'channelMessage' ? event.channel : undefined,
      target: event.type === 'channelMessage' ? event.target : undefined,
      to: event.type === 'privateMessage' ? event.to : undefined,
      tags,
      time: event.time,
      expiresAt,
      msgid: event.msgid,
      sealedFor,
      plainFor,
      // The content crosses the bus only for those who get it in the clear.
      text: plainFor.length === 0 ? undefined : event.text,
    },
    stored,
  };
}

const ignore = (): void => undefined;

/**
 * Publishes a sealed message once its content is kept, and after the sender's earlier message still on its way
 * (core/messaging.ts keeps each user's messages in order through `deliveryTail`). Its write is not part of history's
 * group commit, so a message sent after it waits for it as for a message that is not stored (`unstoredTail`); that
 * wait never fails, so a failed view-once write holds back nothing else. Returns the delivery, which rejects (and
 * nothing was delivered) when the write failed.
 */
export function publishWhenKept(session: Session, stored: Promise<void>, publish: () => void): Promise<void> {
  const tail = session.deliveryTail;
  const delivery = (tail === undefined ? stored : Promise.all([stored, tail.then(ignore, ignore)])).then(publish);
  const settled = delivery.then(ignore, ignore);
  session.deliveryTail = settled;
  session.unstoredTail = settled;
  void settled.then(() => {
    if (session.deliveryTail === settled) session.deliveryTail = undefined;
    if (session.unstoredTail === settled) session.unstoredTail = undefined;
  });
  return delivery;
}

/** A store failure on a view-once path, said without the driver's details (which may quote the content). */
export class ViewOnceStoreError extends Error {
  override name = 'ViewOnceStoreError';

  constructor(cause: unknown) {
    const code = (cause as { code?: unknown } | undefined)?.code;
    const kind = cause instanceof Error ? cause.name : typeof cause;
    super(`the view-once store failed (${kind}${typeof code === 'string' ? ` ${code}` : ''})`);
  }
}

// ---- delivery (every node, for its own sessions) ---------------------------------------------------

type ViewOnceMessageEvent = Extract<NetworkEvent, { type: 'viewOnceMessage' }>;
type ViewOnceOpenedEvent = Extract<NetworkEvent, { type: 'viewOnceOpened' }>;

/** The sealed form of a message: the msgid and the view-once tag, a placeholder for text. */
export function sealedMessage(message: Pick<SealedViewOnce, 'source' | 'account' | 'command' | 'time' | 'tags' | 'msgid'>, target: string, bot: boolean): Outbound {
  return new Outbound(message.source, message.command, [target, SEALED_TEXT], message.time, message.tags, message.account, message.msgid, bot ? `bot;${VIEW_ONCE_TAG}` : VIEW_ONCE_TAG);
}

/**
 * Delivers a view-once message: sealed to the recipients who open it with VIEWONCE (on every one of their
 * connections: one without the cap sees the placeholder's text), in the clear and marked to those who cannot, and
 * sealed to the sender's connections (echo-message decides for the one it came from, as for any message).
 */
export function deliverViewOnce(network: Network, event: ViewOnceMessageEvent): void {
  const sender = network.sessions.get(event.from);
  if (sender === undefined) return;
  const channel = event.channel === undefined ? undefined : network.channels.get(event.channel);
  const to = event.to === undefined ? undefined : network.sessions.get(event.to);
  const target = channel === undefined ? to?.nick : event.target;
  if (target === undefined) return;
  const bot = (sender.modes & UserMode.bot) !== 0;
  const sealed = sealedMessage({ source: sender.prefix, account: sender.account, command: event.command, time: event.time, tags: event.tags, msgid: event.msgid }, target, bot);
  const plain =
    event.text === undefined
      ? undefined
      : new Outbound(sender.prefix, event.command, [target, `${VIEW_ONCE_MARKER}${event.text}`], event.time, event.tags, sender.account, event.msgid, bot ? 'bot' : undefined);
  for (const id of event.sealedFor) {
    const session = network.sessions.get(id);
    if (session !== undefined && session !== sender) session.send(sealed);
  }
  if (plain !== undefined) {
    for (const id of event.plainFor) {
      const session = network.sessions.get(id);
      if (session === undefined) continue;
      // Getting it in the clear is this recipient's one opening: a later OPEN is answered ALREADY_OPENED.
      rememberOpening(network, recipientKey(network, session), event.msgid, event.expiresAt);
      if (session !== sender) session.send(plain);
    }
  }
  if (to === sender) {
    // A message to oneself: its recipient is every connection of the sender already.
    sender.send(plain !== undefined && event.plainFor.includes(sender.id) ? plain : sealed);
    return;
  }
  for (const device of sender.devices) {
    if (device.id === event.device && !device.hasCap(Cap.echoMessage)) continue;
    device.link.send(sealed);
  }
}

/**
 * A recipient opened a message: every node remembers it (for ALREADY_OPENED), and the recipient's other connections
 * with the cap are told, so that they show it opened too (multi-device).
 */
export function deliverViewOnceOpened(network: Network, event: ViewOnceOpenedEvent): void {
  rememberOpening(network, event.recipient, event.msgid, event.expiresAt);
  const message = new Outbound(network.settings.serverName, 'VIEWONCE', ['OPENED', event.msgid], event.time);
  for (const session of sessionsOf(network, event.recipient)) {
    for (const device of session.devices) if (device.id !== event.device && device.hasCap(Cap.viewOnce)) device.link.send(message);
  }
}
