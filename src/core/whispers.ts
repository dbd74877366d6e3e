/**
 * Whispers (issue 7): a private message to one member of a room, said in the context of that room. On the wire it is
 * a PRIVMSG/NOTICE/TAGMSG to a nick carrying the IRCv3 client tag `+channel-context=#room` (the draft
 * "channel-context"; the older `+draft/channel-context` is accepted too). It is a private message in every other
 * respect: delivered to the recipient and the sender's devices only, kept in history as part of their conversation,
 * so a room's CHATHISTORY never holds it. The room only says where clients should show it, which is why the server
 * checks it: a client must be able to trust that a whisper placed in #room came from a member of #room.
 */
import { FailError } from './errors.js';
import type { Network } from './network.js';
import type { Session } from './session.js';

/** The draft's tag, and the older spelling clients still send and understand. */
export const CHANNEL_CONTEXT_TAGS = ['+channel-context', '+draft/channel-context'] as const;

/**
 * For a message to `recipient` carrying channel-context: checks that the room exists and that both are members,
 * and returns the tags to relay and keep, with both spellings naming the room as it is written (so clients that know
 * only one of them place it too). Without the tag, returns `tags` as they were. Throws FAIL INVALID_CONTEXT
 * otherwise, and then nothing is delivered.
 */
export function whisperTags(
  network: Network,
  session: Session,
  recipient: Session,
  command: string,
  tags: ReadonlyMap<string, string> | undefined,
): ReadonlyMap<string, string> | undefined {
  if (tags === undefined) return tags;
  const named = CHANNEL_CONTEXT_TAGS.map((key) => tags.get(key)).filter((value) => value !== undefined);
  const [room] = named;
  if (room === undefined) return tags;
  const refuse = (description: string): FailError => new FailError(command, 'INVALID_CONTEXT', [recipient.nick, room], description);
  if (named.some((other) => network.fold(other) !== network.fold(room))) throw refuse('The channel-context tags name different rooms');
  const channel = network.findChannel(room);
  // One answer whether the room is missing or the sender is not in it: a secret room's existence is not told.
  if (channel === undefined || !channel.members.has(session)) throw refuse(`You can only whisper in a room you are in: you are not in ${room}`);
  if (!channel.members.has(recipient)) throw refuse(`${recipient.nick} is not in ${channel.name}`);
  const relayed = new Map(tags);
  for (const key of CHANNEL_CONTEXT_TAGS) relayed.set(key, channel.name);
  return relayed;
}
