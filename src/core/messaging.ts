/**
 * PRIVMSG, NOTICE and TAGMSG: deciding who may speak where, keeping the message in history, then handing it to
 * the Bus. A message that history keeps is published only once the store has it (issue 5, durability): what any
 * client saw, echoed or acknowledged, survives a crash.
 */
import { rankByPrefix } from './channel.js';
import { ChatError } from './errors.js';
import type { MultilineLine, NetworkEvent } from './events.js';
import type { HistoryItem, HistoryStore } from './history.js';
import { conversationKey, partyKey } from './history.js';
import type { Network } from './network.js';
import { MULTILINE_MARKER, multilineMarker } from './multiline.js';
import { maySpeak } from './permissions.js';
import type { Session } from './session.js';
import { whisperTags } from './whispers.js';
import type { ViewOnceStore } from './view-once.js';
import { isViewOnce, publishWhenKept, sealViewOnce } from './view-once.js';

export type MessageCommand = 'PRIVMSG' | 'NOTICE' | 'TAGMSG';

/** Client tags that history keeps on a TAGMSG: reactions, so they come back with scroll-back. +typing never is. */
const KEPT_TAGMSG_TAGS = ['+draft/react', '+draft/unreact'];
/** Client tags never stored: they only make sense live. */
const EPHEMERAL_TAGS = ['+typing', '+draft/typing'];

export interface SentMessage {
  /** The recipient of a private message, so the caller can answer with RPL_AWAY. */
  readonly recipient: Session | undefined;
  /** Settles once the message is stored and delivered; undefined when nothing had to be awaited. */
  readonly done: Promise<void> | undefined;
}

/**
 * Sends to one target: "#room", "@#room" (STATUSMSG: only members of that rank and above) or a nick. Throws a
 * ChatError when it may not be sent; the promise rejects when the store could not keep it (then nobody got it).
 */
export function sendMessage(
  network: Network,
  history: HistoryStore | undefined,
  session: Session,
  device: string | undefined,
  command: MessageCommand,
  target: string,
  text: string,
  tags: ReadonlyMap<string, string> | undefined,
  /** draft/multiline: the lines `text` joins; the message is then delivered, and kept, as one (core/multiline.ts). */
  lines?: readonly MultilineLine[],
  /** Where natter.chat/view-once content waits for its recipients; without it a view-once message is refused. */
  viewOnce?: ViewOnceStore,
): SentMessage {
  const time = network.clock.now();
  const msgid = network.msgids.next();
  const first = target.charCodeAt(0);
  let event: NetworkEvent;
  let recipient: Session | undefined;
  let historyTarget: string;
  if (first === 35 /* # */ || (rankByPrefix(target[0] ?? '') !== undefined && target.charCodeAt(1) === 35)) {
    const status = first === 35 ? undefined : rankByPrefix(target[0] ?? '');
    const name = status === undefined ? target : target.slice(1);
    const channel = network.channels.get(network.fold(name));
    if (channel === undefined) throw new ChatError('noSuchChannel', [name]);
    if (!maySpeak(network, session, channel)) throw new ChatError('cannotSendToChan', [channel.name]);
    const minRank = status?.rank ?? 0;
    event = {
      type: 'channelMessage',
      from: session.id,
      command,
      channel: channel.nameFolded,
      target: minRank === 0 ? channel.name : `${target[0] ?? ''}${channel.name}`,
      minRank,
      text,
      tags,
      time,
      msgid,
      device,
      ...(lines === undefined ? {} : { lines }),
    };
    // A STATUSMSG reaches some members only: history, which any member may read, does not keep it.
    historyTarget = minRank === 0 ? channel.nameFolded : '';
  } else {
    recipient = network.findNick(target);
    if (recipient === undefined) throw new ChatError('noSuchNick', [target]);
    // A whisper (+channel-context): checked against the room, then an ordinary private message (core/whispers.ts).
    const relayed = whisperTags(network, session, recipient, command, tags);
    event = { type: 'privateMessage', from: session.id, command, to: recipient.id, text, tags: relayed, time, msgid, device, ...(lines === undefined ? {} : { lines }) };
    historyTarget = conversationKey(partyOf(network, session), partyOf(network, recipient));
  }
  if (command !== 'TAGMSG') session.lastSpokeAt = Math.floor(time / 1000);
  // natter.chat/view-once: sealed for its recipients, its content kept for them alone, never in history (core/view-once.ts).
  const sealed = isViewOnce(tags) ? sealViewOnce(network, viewOnce, session, event, lines) : undefined;
  if (sealed !== undefined) event = sealed.event;
  // Past every rule: the message is accepted (whether the store then keeps it is counted as an error if not).
  network.counters.messagesAccepted[command]++;
  const item = sealed !== undefined || history === undefined || historyTarget === '' ? undefined : historyItem(session, event, historyTarget, recipient);
  const publish = (): void => {
    network.publish(event);
  };
  if (sealed?.stored !== undefined) return { recipient, done: publishWhenKept(session, sealed.stored, publish) };
  const tail = session.deliveryTail;
  if (item === undefined) {
    // Not kept: delivered at once, unless an earlier message of this user is still on its way.
    if (tail === undefined) {
      publish();
      return { recipient, done: undefined };
    }
    const delivery = tail.then(publish, publish);
    session.unstoredTail = delivery;
    return { recipient, done: followTail(session, delivery) };
  }
  // Stored messages keep their order through the store (appends commit, and resolve, in order); only a message
  // that was not stored and still waits to go out must be waited for.
  const stored = (history as HistoryStore).appendHistory(item);
  const unstored = session.unstoredTail;
  const delivery = unstored === undefined ? stored.then(publish) : Promise.all([stored, unstored]).then(publish);
  return { recipient, done: followTail(session, delivery) };
}

/** Makes `delivery` the session's tail until it settles (and nothing newer took its place). */
function followTail(session: Session, delivery: Promise<void>): Promise<void> {
  session.deliveryTail = delivery;
  const clear = (): void => {
    if (session.deliveryTail === delivery) session.deliveryTail = undefined;
    if (session.unstoredTail === delivery) session.unstoredTail = undefined;
  };
  delivery.then(clear, clear);
  return delivery;
}

/** A private conversation's party: the account when logged in (so every device and later login sees it), else the nick. */
export function partyOf(network: Network, session: Session): string {
  return partyKey(session.account === undefined ? undefined : network.fold(session.account), session.nickFolded);
}

function historyItem(session: Session, event: NetworkEvent, target: string, recipient: Session | undefined): HistoryItem | undefined {
  if (event.type !== 'channelMessage' && event.type !== 'privateMessage') return undefined;
  let tags = keptTags(event.command, event.tags);
  // A multiline message is one item; its marker keeps where the lines were, for multilineReplay().
  if (event.lines !== undefined) tags = new Map(tags ?? []).set(MULTILINE_MARKER, multilineMarker(event.lines));
  if (event.command === 'TAGMSG' && tags === undefined) return undefined;
  const wireTarget = event.type === 'channelMessage' ? event.target : (recipient?.nick ?? '*');
  return {
    msgid: event.msgid,
    time: event.time,
    target,
    command: event.command,
    source: session.prefix,
    account: session.account,
    params: event.command === 'TAGMSG' ? [wireTarget] : [wireTarget, event.text],
    tags,
  };
}

function keptTags(command: MessageCommand, tags: ReadonlyMap<string, string> | undefined): ReadonlyMap<string, string> | undefined {
  if (tags === undefined) return undefined;
  if (command === 'TAGMSG') return KEPT_TAGMSG_TAGS.some((key) => tags.has(key)) ? withoutEphemeral(tags) : undefined;
  return EPHEMERAL_TAGS.some((key) => tags.has(key)) ? withoutEphemeral(tags) : tags;
}

function withoutEphemeral(tags: ReadonlyMap<string, string>): ReadonlyMap<string, string> | undefined {
  const kept = new Map(tags);
  for (const key of EPHEMERAL_TAGS) kept.delete(key);
  return kept.size === 0 ? undefined : kept;
}

export function sendWallops(network: Network, session: Session, text: string): void {
  network.publish({ type: 'wallops', source: session.prefix, text, time: network.clock.now() });
}
