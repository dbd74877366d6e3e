/** Joining, leaving and running rooms: JOIN, PART, KICK, TOPIC, INVITE. */
import { Rank } from './channel.js';
import type { Channel } from './channel.js';
import { ChatError } from './errors.js';
import type { Network } from './network.js';
import { actingRank, isBanned, matchesList, mayChangeTopic, mayKick } from './permissions.js';
import { currentChannel, needsStore, withRoomWrite } from './registered-rooms.js';
import type { Session } from './session.js';
import type { RoomStore } from './store.js';

// No space, comma, BELL, NUL or colon (Modern IRC "Channels").
// eslint-disable-next-line no-control-regex -- BELL and NUL are exactly what must be refused
const CHANNEL_PATTERN = /^#[^\s,\x07\x00:]+$/;

export function isValidChannelName(name: string, maxLength: number): boolean {
  return name.length >= 2 && name.length <= maxLength && CHANNEL_PATTERN.test(name);
}

export function requireChannel(network: Network, name: string): Channel {
  const channel = network.findChannel(name);
  if (channel === undefined) throw new ChatError('noSuchChannel', [name]);
  return channel;
}

function requireMember(session: Session, channel: Channel): void {
  if (!channel.members.has(session)) throw new ChatError('notOnChannel', [channel.name]);
}

/**
 * JOIN one channel. The creator becomes its operator. Checks, in Modern IRC's order: limit on rooms per
 * user, key (+k), limit (+l), invite-only (+i, unless invited or matching +I), bans (+b, unless +e).
 * Returns the channel, or undefined when the session was already a member. A room's first JOIN claims it
 * network-wide first (issue 9: two users on two nodes never both found one room; the one who loses joins without
 * ops): at once in one process, later (a promise) in cluster mode.
 */
export function joinChannel(network: Network, session: Session, name: string, key: string | undefined): Channel | undefined | Promise<Channel | undefined> {
  const { limits } = network.settings;
  if (!isValidChannelName(name, limits.channelLength)) throw new ChatError('noSuchChannel', [name], 'Illegal channel name');
  const folded = network.fold(name);
  const existing = network.channels.get(folded);
  if (existing?.members.has(session) === true) return undefined;
  mayJoin(network, session, name, existing, key);
  const join = (created: boolean): Channel | undefined => {
    network.publish({ type: 'channelJoined', id: session.id, channel: folded, name, created, time: network.clock.now(), msgid: network.msgids.next() });
    return network.channels.get(folded);
  };
  if (existing !== undefined) return join(false);
  const founding = network.claims.claimRoom(folded, session.id);
  if (typeof founding === 'boolean') return join(founding);
  return founding.then((founder) => {
    // While the claim was asked the session may have left, or the room come into being here (the JOIN of someone
    // who lost the claim, or whose node had the room already): the checks run again on what is there now.
    const now = network.channels.get(folded);
    if (network.sessions.get(session.id) !== session || now?.members.has(session) === true) {
      if (founder && now === undefined) void network.claims.releaseRoom(folded);
      return undefined;
    }
    try {
      mayJoin(network, session, name, now, key);
    } catch (error) {
      if (founder && now === undefined) void network.claims.releaseRoom(folded);
      throw error;
    }
    return join(founder);
  });
}

/** The checks of a JOIN, on the room as it is (undefined: it does not exist yet). */
function mayJoin(network: Network, session: Session, name: string, existing: Channel | undefined, key: string | undefined): void {
  if (session.channels.size >= network.settings.limits.channelsPerUser && !session.isOper) throw new ChatError('tooManyChannels', [name]);
  if (existing === undefined || session.isOper) return;
  const { modes } = existing;
  // An account with a role of half-operator or above in a registered room passes as if invited: it could invite
  // itself, and the founder must never be locked out of their own room (docs/chanserv.md).
  const invited = existing.invited.has(session.id) || (existing.registration?.roleOf(session.accountId) ?? Rank.none) >= Rank.halfop;
  if (modes.key !== undefined && modes.key !== key && !invited) throw new ChatError('badChannelKey', [existing.name]);
  if (modes.limit !== undefined && existing.members.size >= modes.limit && !invited) throw new ChatError('channelIsFull', [existing.name]);
  if (modes.inviteOnly && !invited && !matchesList(network, session, existing.lists.I)) {
    throw new ChatError('inviteOnlyChan', [existing.name]);
  }
  if (!invited && isBanned(network, session, existing)) throw new ChatError('bannedFromChan', [existing.name]);
}

export function partChannel(network: Network, session: Session, name: string, reason: string | undefined): void {
  const channel = requireChannel(network, name);
  requireMember(session, channel);
  network.publish({ type: 'channelParted', id: session.id, channel: channel.nameFolded, reason, time: network.clock.now(), msgid: network.msgids.next() });
}

/** JOIN 0: leave every channel. */
export function partAll(network: Network, session: Session): void {
  for (const channel of [...session.channels.keys()]) {
    network.publish({ type: 'channelParted', id: session.id, channel: channel.nameFolded, reason: undefined, time: network.clock.now(), msgid: network.msgids.next() });
  }
}

export function kickMember(network: Network, session: Session, name: string, nick: string, reason: string): void {
  const channel = requireChannel(network, name);
  if (!session.isOper) requireMember(session, channel);
  const actor = actingRank(session, channel);
  // A member without a rank may not kick at all, not even themselves (they can PART).
  if (actor < Rank.halfop) throw new ChatError('chanOpPrivsNeeded', [channel.name]);
  const target = network.findNick(nick);
  const targetMembership = target === undefined ? undefined : channel.members.get(target);
  if (target === undefined || targetMembership === undefined) throw new ChatError('userNotInChannel', [nick, channel.name]);
  if (target !== session && !mayKick(actor, targetMembership.highestRank)) {
    throw new ChatError('chanOpPrivsNeeded', [channel.name], "You can't kick a member of equal or higher rank");
  }
  network.publish({
    type: 'memberKicked',
    by: session.prefix,
    channel: channel.nameFolded,
    target: target.id,
    reason: reason.slice(0, network.settings.limits.kickLength),
    time: network.clock.now(),
    msgid: network.msgids.next(),
  });
}

/**
 * TOPIC with a new topic. In a registered room the topic is stored before anyone sees it (so this resolves
 * later); elsewhere it is synchronous.
 */
export function setTopic(network: Network, store: RoomStore, session: Session, name: string, topic: string): void | Promise<void> {
  const channel = requireChannel(network, name);
  const check = (room: Channel): void => {
    if (!session.isOper) requireMember(session, room);
    if (!mayChangeTopic(actingRank(session, room), room)) throw new ChatError('chanOpPrivsNeeded', [room.name]);
  };
  check(channel);
  const text = topic.slice(0, network.settings.limits.topicLength);
  const publish = (time: number): void => {
    network.publish({ type: 'topicChanged', by: session.prefix, channel: channel.nameFolded, topic: text, time, msgid: network.msgids.next() });
  };
  if (!needsStore(network, channel)) {
    publish(network.clock.now());
    return;
  }
  return withRoomWrite(network, channel.nameFolded, async () => {
    const current = currentChannel(network, channel);
    if (current === undefined) throw new ChatError('noSuchChannel', [name]);
    check(current);
    const time = network.clock.now();
    if (current.registration !== undefined) await store.updateRoom(current.nameFolded, { topic: text, topicSetBy: session.prefix, topicSetAt: time });
    publish(time);
  });
}

/**
 * INVITE: a member invites a user; to a +i room only a half-operator or above may (Modern IRC "INVITE").
 * Inviting to a room that does not exist is allowed, as the document permits, and simply notifies.
 */
export function inviteUser(network: Network, session: Session, nick: string, name: string): Session {
  const target = network.findNick(nick);
  if (target === undefined) throw new ChatError('noSuchNick', [nick]);
  const channel = network.findChannel(name);
  let admits = false;
  if (channel !== undefined) {
    if (!session.isOper) requireMember(session, channel);
    if (channel.members.has(target)) throw new ChatError('userOnChannel', [target.nick, channel.name]);
    admits = actingRank(session, channel) >= Rank.halfop;
    if (channel.modes.inviteOnly && !admits) throw new ChatError('chanOpPrivsNeeded', [channel.name]);
  }
  network.publish({
    type: 'userInvited',
    by: session.prefix,
    from: session.id,
    channel: channel?.nameFolded ?? network.fold(name),
    name: channel?.name ?? name,
    target: target.id,
    // Only a half-operator's invitation lets past +k, +l and +b too; a plain member's would be a way around a ban.
    admits,
    time: network.clock.now(),
  });
  return target;
}

/** Secret rooms are hidden from non-members in LIST, NAMES, WHO and WHOIS. */
export function isVisibleTo(channel: Channel, session: Session): boolean {
  return !channel.modes.secret || channel.members.has(session) || session.isOper;
}
