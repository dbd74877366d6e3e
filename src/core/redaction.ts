/**
 * draft/message-redaction (REDACT <target> <msgid> [:reason]): who may delete a message from history, and the
 * deletion itself. The row goes from the store first; only then is the REDACT published, so a client told of a
 * redaction never finds the message again in history.
 *
 * Who may redact:
 * - the author, while `history.authorsMayRedact` is on: the same account when the author was logged in; a guest
 *   only while it is still the session that sent it (same nick!user@host, message sent since the session signed on);
 * - a room's moderators (operator rank and above) for the room's messages;
 * - server operators, in any room and in their own private conversations.
 *
 * Uploads (issue 7) whose URLs the message carried and that belong to its author's account are deleted with it.
 *
 * Reactions and replies that point at a redacted msgid are left as they are: they are messages of their own authors,
 * and clients ignore a +draft/reply or +draft/react whose parent they do not have.
 */
import type { Channel } from './channel.js';
import { Rank } from './channel.js';
import { FailError } from './errors.js';
import type { HistoryStore, StoredHistoryItem } from './history.js';
import { conversationKey } from './history.js';
import { partyOf } from './messaging.js';
import type { Network } from './network.js';
import { isValidChannelName } from './rooms.js';
import type { Session } from './session.js';
import type { UploadJanitor } from './uploads.js';

/** What history items a REDACT may name (the spec: "which MUST be a PRIVMSG, NOTICE, or TAGMSG"). */
const REDACTABLE = new Set(['PRIVMSG', 'NOTICE', 'TAGMSG']);

/** Where a REDACT points: a room, or the private conversation of the redactor with another user. */
interface RedactionPlace {
  /** The history target: the room's casefolded name or the conversation key. */
  readonly key: string;
  readonly channel: Channel | undefined;
  readonly other: Session | undefined;
}

/**
 * Redacts `msgid` in `target` (a room, or the nick of the other party of a private conversation). Throws a FailError
 * with the spec's codes: INVALID_TARGET, REDACT_FORBIDDEN, UNKNOWN_MSGID. Resolves once the row is deleted and the
 * REDACT published.
 */
export async function redactMessage(
  network: Network,
  history: HistoryStore,
  session: Session,
  device: string | undefined,
  target: string,
  msgid: string,
  reason: string | undefined,
  uploads?: UploadJanitor,
): Promise<void> {
  const place = redactionPlace(network, session, target);
  const item = await history.findHistory(place.key, msgid);
  // A message still in flight (not yet stored, so not yet delivered) is unknown too, as is one of another target.
  if (item === undefined || !REDACTABLE.has(item.command)) throw unknownMsgid(target, msgid);
  if (!mayRedact(network, session, place.channel, item)) {
    // Outside a room, whether a msgid exists there is not told: msgids are guessable (prefix and counter).
    if (place.channel !== undefined && !place.channel.members.has(session)) throw unknownMsgid(target, msgid);
    throw new FailError('REDACT', 'REDACT_FORBIDDEN', [target, msgid], 'You are not authorised to delete this message');
  }
  // Another REDACT of the same message may have won the race.
  if (!(await history.deleteHistory(place.key, msgid))) throw unknownMsgid(target, msgid);
  // The author's uploads it linked go with it, before anyone is told (issue 7). Never rejects (UploadJanitor).
  const text = item.command === 'TAGMSG' ? undefined : item.params[1];
  if (uploads !== undefined && text !== undefined && item.account !== undefined) await uploads.deleteLinkedUploads(text, network.fold(item.account));
  network.publish({
    type: 'messageRedacted',
    from: session.id,
    device,
    channel: place.channel?.nameFolded,
    to: place.other?.id,
    target: place.channel?.name ?? place.other?.nick ?? target,
    redacted: msgid,
    reason: reason === undefined || reason === '' ? undefined : reason,
    time: network.clock.now(),
    msgid: network.msgids.next(),
  });
}

/** A room that exists on the network, or a nick online; anything else (also "@#room", never kept) is INVALID_TARGET. */
function redactionPlace(network: Network, session: Session, target: string): RedactionPlace {
  if (target.startsWith('#')) {
    const channel = isValidChannelName(target, network.settings.limits.channelLength) ? network.findChannel(target) : undefined;
    if (channel === undefined) throw invalidTarget(target);
    return { key: channel.nameFolded, channel, other: undefined };
  }
  const other = network.findNick(target);
  if (other === undefined) throw invalidTarget(target);
  return { key: conversationKey(partyOf(network, session), partyOf(network, other)), channel: undefined, other };
}

export function mayRedact(network: Network, session: Session, channel: Channel | undefined, item: StoredHistoryItem): boolean {
  if (session.isOper) return true;
  if (channel !== undefined && (channel.members.get(session)?.highestRank ?? Rank.none) >= Rank.op) return true;
  return network.settings.history.authorsMayRedact && isAuthor(network, session, item);
}

/**
 * The author of a logged-in message is its account, whichever session or device; a guest's message belongs only to
 * the session that sent it: same nick!user@host, and said since that session signed on (a later guest taking the
 * nick is someone else).
 */
export function isAuthor(network: Network, session: Session, item: StoredHistoryItem): boolean {
  if (item.account !== undefined) return session.account !== undefined && network.fold(session.account) === network.fold(item.account);
  return item.source === session.prefix && item.time >= session.connectedAtMs;
}

function invalidTarget(target: string): FailError {
  return new FailError('REDACT', 'INVALID_TARGET', [target], `You cannot delete messages from ${target}`);
}

function unknownMsgid(target: string, msgid: string): FailError {
  return new FailError('REDACT', 'UNKNOWN_MSGID', [target, msgid], 'This message does not exist or is too old');
}
