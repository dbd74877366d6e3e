/** JOIN, PART, TOPIC, NAMES, LIST, KICK, INVITE (Modern IRC "Channel Operations"). */
import type { Channel } from '../core/channel.js';
import { ChatError } from '../core/errors.js';
import { inviteUser, isVisibleTo, joinChannel, kickMember, partAll, partChannel, requireChannel, setTopic } from '../core/rooms.js';
import type { Session } from '../core/session.js';
import { Cap } from '../protocol/caps.js';
import { matchWildcard } from '../protocol/mask.js';
import * as N from '../protocol/numerics.js';
import { CommandContext } from './context.js';
import { eachTarget } from './dispatch-helpers.js';
import { sendJoinReadMarker } from './markread.js';
import type { CommandTable } from './types.js';

export function sendTopic(ctx: CommandContext, channel: Channel, always: boolean): void {
  if (channel.topic === '') {
    if (always) ctx.numeric(N.RPL_NOTOPIC, channel.name, 'No topic is set');
    return;
  }
  ctx.numeric(N.RPL_TOPIC, channel.name, channel.topic);
  ctx.numeric(N.RPL_TOPICWHOTIME, channel.name, channel.topicSetBy, String(channel.topicSetAt));
}

/** RPL_NAMREPLY lines packed up to ~400 bytes of names each, then RPL_ENDOFNAMES. */
export function sendNames(ctx: CommandContext, channel: Channel): void {
  const { session } = ctx;
  const visible = channel.members.has(session) || session.isOper;
  const allPrefixes = ctx.device.hasCap(Cap.multiPrefix);
  const userhost = ctx.device.hasCap(Cap.userhostInNames);
  const symbol = channel.modes.secret ? '@' : '=';
  let line = '';
  for (const membership of channel.members.values()) {
    const member = membership.session;
    if (!visible && (member.modes & 1) !== 0) continue; // invisible users are hidden from outsiders
    const entry = membership.prefixString(allPrefixes) + (userhost ? member.prefix : member.nick);
    if (line.length + entry.length + 1 > 400) {
      ctx.numeric(N.RPL_NAMREPLY, symbol, channel.name, line);
      line = '';
    }
    line = line === '' ? entry : `${line} ${entry}`;
  }
  if (line !== '') ctx.numeric(N.RPL_NAMREPLY, symbol, channel.name, line);
  ctx.numeric(N.RPL_ENDOFNAMES, channel.name, 'End of /NAMES list');
}

/** What follows a JOIN for the joining client: the topic, and NAMES unless it asked for none. */
function sendJoinReplies(ctx: CommandContext, channel: Channel): void {
  sendTopic(ctx, channel, false);
  // draft/no-implicit-names: the client asks for NAMES itself when it wants them.
  if (!ctx.device.hasCap(Cap.noImplicitNames)) sendNames(ctx, channel);
}

/** One room of a JOIN: the checks of core's joinChannel, then the replies; undefined when already a member. */
function joinOne(ctx: CommandContext, name: string, key: string | undefined): Promise<void> | undefined {
  const joined = joinChannel(ctx.network, ctx.session, name, key);
  // Cluster mode: a room's first JOIN waits for its network-wide claim (issue 9).
  if (joined instanceof Promise) return joined.then((channel) => (channel === undefined ? undefined : afterJoin(ctx, channel)));
  return joined === undefined ? undefined : afterJoin(ctx, joined);
}

/** What the joining user's connections get once the JOIN went out. */
function afterJoin(ctx: CommandContext, channel: Channel): Promise<void> | undefined {
  const replies = (): void => {
    sendJoinReplies(ctx, channel);
    // The user's other devices saw the JOIN too: they get its topic and NAMES as well (multi-device).
    for (const device of ctx.session.devices) {
      if (device === ctx.device) continue;
      const other = new CommandContext(ctx.server, ctx.session, device);
      sendJoinReplies(other, channel);
      other.flush();
    }
  };
  // draft/read-marker: MARKREAD right after the JOIN (before RPL_ENDOFNAMES), which may wait on the store.
  const marker = sendJoinReadMarker(ctx, channel);
  if (marker !== undefined) return marker.then(replies);
  replies();
  return undefined;
}

function handleJoin(ctx: CommandContext, channels: string, keys: string | undefined): Promise<void> | undefined {
  if (channels === '0') {
    partAll(ctx.network, ctx.session);
    return undefined;
  }
  const keyList = keys === undefined ? [] : keys.split(',');
  let index = 0;
  return eachTarget(ctx, channels, (name) => {
    const key = keyList[index++];
    return joinOne(ctx, name, key === '' ? undefined : key);
  });
}

/**
 * Joins `rooms` one by one exactly as a JOIN of each would, without a key: the same checks, replies and numerics;
 * a refused room does not stop the next. One JOIN per room, so MAXTARGETS does not cut a long list (server-side
 * autojoin, welcome.ts).
 */
export async function joinRooms(ctx: CommandContext, rooms: readonly string[]): Promise<void> {
  for (const room of rooms) await eachTarget(ctx, room, (name) => joinOne(ctx, name, undefined));
}

interface ListFilter {
  readonly test: (channel: Channel, now: number) => boolean;
}

/** ELIST=CMNTU: C<n/C>n created, M mask, N !mask, T<n/T>n topic age in minutes, U <n / >n users. */
function parseListFilters(ctx: CommandContext, spec: string | undefined): ListFilter[] {
  if (spec === undefined || spec === '') return [];
  const fold = ctx.network.fold;
  return spec.split(',').flatMap((item): ListFilter[] => {
    const m = /^([CT])([<>])(\d+)$/.exec(item);
    if (m !== null) {
      const minutes = Number(m[3]);
      const field = m[1];
      const older = m[2] === '>';
      return [
        {
          test: (channel, now) => {
            const at = field === 'C' ? channel.createdAt : channel.topicSetAt;
            if (field === 'T' && at === 0) return false;
            const age = (now - at) / 60;
            return older ? age > minutes : age < minutes;
          },
        },
      ];
    }
    const u = /^([<>])(\d+)$/.exec(item);
    if (u !== null) {
      const count = Number(u[2]);
      return [{ test: (channel) => (u[1] === '>' ? channel.members.size > count : channel.members.size < count) }];
    }
    if (item.startsWith('!')) {
      const mask = fold(item.slice(1));
      return [{ test: (channel) => !matchWildcard(mask, channel.nameFolded) }];
    }
    const mask = fold(item);
    return [{ test: (channel) => matchWildcard(mask, channel.nameFolded) }];
  });
}

function handleList(ctx: CommandContext, spec: string | undefined): void {
  const filters = parseListFilters(ctx, spec);
  const now = ctx.network.nowSeconds();
  ctx.numeric(N.RPL_LISTSTART, 'Channel', 'Users  Name');
  for (const channel of ctx.network.channels.values()) {
    if (!isVisibleTo(channel, ctx.session)) continue;
    if (!filters.every((f) => f.test(channel, now))) continue;
    ctx.numeric(N.RPL_LIST, channel.name, String(channel.members.size), channel.topic);
  }
  ctx.numeric(N.RPL_LISTEND, 'End of /LIST');
}

function visibleChannelOrThrow(ctx: CommandContext, name: string, session: Session): Channel {
  const channel = requireChannel(ctx.network, name);
  if (!isVisibleTo(channel, session)) throw new ChatError('noSuchChannel', [name]);
  return channel;
}

export const channelCommands: CommandTable = {
  JOIN: {
    minParams: 1,
    handler(ctx, message) {
      return handleJoin(ctx, message.params[0] ?? '', message.params[1]);
    },
  },
  PART: {
    minParams: 1,
    handler(ctx, message) {
      const reason = message.params[1];
      return eachTarget(ctx, message.params[0] ?? '', (name) => {
        partChannel(ctx.network, ctx.session, name, reason);
      });
    },
  },
  TOPIC: {
    minParams: 1,
    handler(ctx, message) {
      const [name = '', topic] = message.params;
      if (topic === undefined) {
        const channel = visibleChannelOrThrow(ctx, name, ctx.session);
        if (channel.modes.secret && !channel.members.has(ctx.session)) throw new ChatError('notOnChannel', [channel.name]);
        sendTopic(ctx, channel, true);
        return;
      }
      return setTopic(ctx.network, ctx.server.store, ctx.session, name, topic);
    },
  },
  NAMES: {
    minParams: 0,
    handler(ctx, message) {
      const names = message.params[0];
      if (names === undefined || names === '') {
        ctx.numeric(N.RPL_ENDOFNAMES, '*', 'End of /NAMES list');
        return;
      }
      for (const name of names.split(',').slice(0, 1)) {
        const channel = ctx.network.findChannel(name);
        if (channel === undefined || !isVisibleTo(channel, ctx.session)) ctx.numeric(N.RPL_ENDOFNAMES, name, 'End of /NAMES list');
        else sendNames(ctx, channel);
      }
    },
  },
  LIST: {
    minParams: 0,
    handler(ctx, message) {
      handleList(ctx, message.params[0]);
    },
  },
  KICK: {
    minParams: 2,
    handler(ctx, message) {
      const [name = '', nicks = '', reason] = message.params;
      const why = reason === undefined || reason === '' ? ctx.session.nick : reason;
      return eachTarget(ctx, nicks, (nick) => {
        kickMember(ctx.network, ctx.session, name, nick, why);
      });
    },
  },
  INVITE: {
    minParams: 0,
    handler(ctx, message) {
      const [nick, name] = message.params;
      if (nick === undefined || name === undefined) {
        // INVITE with no parameters lists pending invitations (Modern IRC); we keep none per user, so the list is empty.
        if (nick === undefined) ctx.numeric(N.RPL_ENDOFINVITELIST, 'End of /INVITE list');
        else ctx.numeric(N.ERR_NEEDMOREPARAMS, 'INVITE', 'Not enough parameters');
        return;
      }
      const target = inviteUser(ctx.network, ctx.session, nick, name);
      ctx.numeric(N.RPL_INVITING, target.nick, name);
      if (target.away !== undefined) ctx.numeric(N.RPL_AWAY, target.nick, target.away);
    },
  },
};
