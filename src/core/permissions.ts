/**
 * Who may do what in a room (Modern IRC "Channel Modes" and "Channel membership prefixes", with the
 * conventions of InspIRCd and Ergo where the documents leave it open). Server operators act as owners
 * everywhere: the documented operator override (docs/operators.md).
 */
import type { Channel } from './channel.js';
import { Rank } from './channel.js';
import type { Network } from './network.js';
import type { Session } from './session.js';
import { MUTE_EXTBAN, matchWildcard } from '../protocol/mask.js';

/** The rank a session acts with in a channel: its own, or owner for a server operator. */
export function actingRank(session: Session, channel: Channel): Rank {
  if (session.isOper) return Rank.owner;
  return channel.members.get(session)?.highestRank ?? Rank.none;
}

/**
 * May an actor of rank `actor` give or take `rank` from a member whose highest rank is `target`?
 * Owners do anything; admins manage op and below on members below admin; ops manage op and below
 * on members up to op; half-ops only voice members below them. Anyone may drop their own prefixes.
 */
export function maySetRank(actor: Rank, rank: Rank, target: Rank, onSelf: boolean, adding: boolean): boolean {
  if (onSelf && !adding) return true;
  switch (actor) {
    case Rank.owner:
      return true;
    case Rank.admin:
      return rank <= Rank.op && target < Rank.admin;
    case Rank.op:
      return rank <= Rank.op && target <= Rank.op;
    case Rank.halfop:
      return rank === Rank.voice && target < Rank.halfop;
    default:
      return false;
  }
}

/** KICK: half-ops kick voiced and plain members, ops kick up to ops, admins up to ops, owners anyone. */
export function mayKick(actor: Rank, target: Rank): boolean {
  if (actor === Rank.owner) return true;
  if (actor === Rank.op || actor === Rank.admin) return target <= Rank.op;
  if (actor === Rank.halfop) return target < Rank.halfop;
  return false;
}

/** Flags, key and limit need an operator; the ban, exception and invite lists a half-operator. */
export function maySetChannelMode(actor: Rank, letter: string): boolean {
  if (letter === 'b' || letter === 'e' || letter === 'I') return actor >= Rank.halfop;
  return actor >= Rank.op;
}

export function mayChangeTopic(actor: Rank, channel: Channel): boolean {
  return !channel.modes.topicLocked || actor >= Rank.halfop;
}

/** Matches nick!user@host against a list of masks, casefolded. */
export function matchesList(network: Network, session: Session, masks: ReadonlyArray<{ readonly mask: string }>): boolean {
  if (masks.length === 0) return false;
  const subject = network.fold(session.prefix);
  for (const entry of masks) if (matchWildcard(network.fold(entry.mask), subject)) return true;
  return false;
}

/** A ban keeps out; a mute ("m:" extban in the same list) lets in but not speak. */
export function isBanned(network: Network, session: Session, channel: Channel): boolean {
  const bans = channel.lists.b.filter((entry) => !entry.mask.startsWith(MUTE_EXTBAN));
  return matchesList(network, session, bans) && !matchesList(network, session, channel.lists.e);
}

export function isMuted(network: Network, session: Session, channel: Channel): boolean {
  const mutes = channel.lists.b.filter((entry) => entry.mask.startsWith(MUTE_EXTBAN)).map((entry) => ({ mask: entry.mask.slice(MUTE_EXTBAN.length) }));
  return matchesList(network, session, mutes) && !matchesList(network, session, channel.lists.e);
}

/** May this session speak in the channel (Modern IRC: +n, +m, bans)? */
export function maySpeak(network: Network, session: Session, channel: Channel): boolean {
  if (session.isOper) return true;
  const membership = channel.members.get(session);
  if (membership === undefined) return !channel.modes.noExternal && !channel.modes.moderated && !isBanned(network, session, channel) && !isMuted(network, session, channel);
  if (membership.prefixes !== 0) return true;
  if (channel.modes.moderated) return false;
  return channel.lists.b.length === 0 || (!isBanned(network, session, channel) && !isMuted(network, session, channel));
}
