/** WHO (with WHOX), WHOIS, WHOWAS, ISON, USERHOST, LUSERS, MOTD, VERSION, TIME, ADMIN, INFO, HELP. */
import type { Channel } from '../core/channel.js';
import { isVisibleTo } from '../core/rooms.js';
import { UserMode } from '../core/session.js';
import type { Session } from '../core/session.js';
import { Cap } from '../protocol/caps.js';
import { matchWildcard } from '../protocol/mask.js';
import * as N from '../protocol/numerics.js';
import type { CommandContext } from './context.js';
import { HELP_TOPICS } from './help.js';
import type { CommandTable } from './types.js';
import { sendIsupport, sendLusers, sendMotd } from './welcome.js';

function sharesChannel(a: Session, b: Session): boolean {
  if (a === b) return true;
  const [smaller, other] = a.channels.size <= b.channels.size ? [a, b] : [b, a];
  for (const channel of smaller.channels.keys()) if (channel.members.has(other)) return true;
  return false;
}

/** Invisible (+i) users are seen only by those sharing a room with them, and by operators. */
function canSee(viewer: Session, target: Session): boolean {
  return (target.modes & UserMode.invisible) === 0 || viewer.isOper || sharesChannel(viewer, target);
}

interface WhoxRequest {
  readonly fields: string;
  readonly token: string;
}

function parseWhox(spec: string | undefined): WhoxRequest | undefined {
  if (spec?.startsWith('%') !== true) return undefined;
  const [fields = '', token = '0'] = spec.slice(1).split(',');
  return { fields, token: token.slice(0, 3) };
}

function whoFlags(ctx: CommandContext, target: Session, channel: Channel | undefined): string {
  let flags = target.away === undefined ? 'H' : 'G';
  if (target.isOper) flags += '*';
  const membership = channel?.members.get(target);
  if (membership !== undefined) flags += membership.prefixString(ctx.device.hasCap(Cap.multiPrefix));
  // IRCv3 bot-mode: the BOT ISUPPORT letter among the flags.
  if ((target.modes & UserMode.bot) !== 0) flags += 'B';
  return flags;
}

function whoReply(ctx: CommandContext, target: Session, channel: Channel | undefined, whox: WhoxRequest | undefined): void {
  const server = ctx.network.settings.serverName;
  const channelName = channel?.name ?? '*';
  if (whox === undefined) {
    ctx.numeric(N.RPL_WHOREPLY, channelName, target.user, target.host, server, target.nick, whoFlags(ctx, target, channel), `0 ${target.realname}`);
    return;
  }
  // WHOX fields in the fixed order of the spec: t c u i h s n f d l a o r.
  const out: string[] = [];
  for (const field of 'tcuihsnfdlaor') {
    if (!whox.fields.includes(field)) continue;
    switch (field) {
      case 't':
        out.push(whox.token);
        break;
      case 'c':
        out.push(channelName);
        break;
      case 'u':
        out.push(target.user);
        break;
      case 'i':
        out.push(ctx.session.isOper ? target.ip : '255.255.255.255');
        break;
      case 'h':
        out.push(target.host);
        break;
      case 's':
        out.push(server);
        break;
      case 'n':
        out.push(target.nick);
        break;
      case 'f':
        out.push(whoFlags(ctx, target, channel));
        break;
      case 'd':
        out.push('0');
        break;
      case 'l':
        out.push(String(Math.max(0, ctx.network.nowSeconds() - target.lastSpokeAt)));
        break;
      case 'a':
        out.push(target.account ?? '0');
        break;
      case 'o':
        out.push('n/a'); // channel op levels are not a Natter concept
        break;
      case 'r':
        out.push(target.realname);
        break;
    }
  }
  // The realname, when asked, is last and may hold spaces: the serializer gives it its ':'.
  ctx.numeric(N.RPL_WHOSPCRPL, ...out);
}

function handleWho(ctx: CommandContext, mask: string, spec: string | undefined): void {
  const { network, session } = ctx;
  const whox = parseWhox(spec);
  const operOnly = spec !== undefined && !spec.startsWith('%') && spec.includes('o');
  if (mask.startsWith('#')) {
    const channel = network.findChannel(mask);
    if (channel !== undefined && isVisibleTo(channel, session)) {
      const member = channel.members.has(session) || session.isOper;
      for (const target of channel.members.keys()) {
        if (!member && !canSee(session, target)) continue;
        if (operOnly && !target.isOper) continue;
        whoReply(ctx, target, channel, whox);
      }
    }
  } else {
    const folded = network.fold(mask === '0' ? '*' : mask);
    const exact = network.findNick(mask);
    if (exact !== undefined) {
      whoReply(ctx, exact, undefined, whox);
    } else {
      for (const target of network.sessions.values()) {
        if (!target.registered || !canSee(session, target)) continue;
        if (operOnly && !target.isOper) continue;
        const matches =
          matchWildcard(folded, target.nickFolded) || matchWildcard(folded, network.fold(target.host)) || matchWildcard(folded, network.fold(target.realname));
        if (matches) whoReply(ctx, target, undefined, whox);
      }
    }
  }
  ctx.numeric(N.RPL_ENDOFWHO, mask, 'End of /WHO list');
}

function handleWhois(ctx: CommandContext, nickList: string): void {
  const { network, session } = ctx;
  const nick = nickList.split(',')[0] ?? '';
  const target = network.findNick(nick);
  if (target === undefined) {
    ctx.numeric(N.ERR_NOSUCHNICK, nick, 'No such nick/channel');
    ctx.numeric(N.RPL_ENDOFWHOIS, nick, 'End of /WHOIS list');
    return;
  }
  const { settings } = network;
  ctx.numeric(N.RPL_WHOISUSER, target.nick, target.user, target.host, '*', target.realname);
  const channels: string[] = [];
  for (const [channel, membership] of target.channels) {
    if (!isVisibleTo(channel, session)) continue;
    channels.push(membership.prefixString(ctx.device.hasCap(Cap.multiPrefix)) + channel.name);
  }
  if (channels.length > 0) ctx.numeric(N.RPL_WHOISCHANNELS, target.nick, channels.join(' '));
  ctx.numeric(N.RPL_WHOISSERVER, target.nick, settings.serverName, settings.networkName);
  if (target.away !== undefined) ctx.numeric(N.RPL_AWAY, target.nick, target.away);
  if (target.isOper) ctx.numeric(N.RPL_WHOISOPERATOR, target.nick, 'is an IRC operator');
  if ((target.modes & UserMode.bot) !== 0) ctx.numeric(N.RPL_WHOISBOT, target.nick, 'is a bot');
  if (target.account !== undefined) ctx.numeric(N.RPL_WHOISACCOUNT, target.nick, target.account, 'is logged in as');
  if (target.secure) ctx.numeric(N.RPL_WHOISSECURE, target.nick, 'is using a secure connection');
  if (session.isOper || session === target) ctx.numeric(N.RPL_WHOISACTUALLY, target.nick, target.ip, 'Actual IP');
  ctx.numeric(N.RPL_WHOISIDLE, target.nick, String(Math.max(0, network.nowSeconds() - target.lastSpokeAt)), String(target.signonAt), 'seconds idle, signon time');
  ctx.numeric(N.RPL_ENDOFWHOIS, target.nick, 'End of /WHOIS list');
}

function handleWhowas(ctx: CommandContext, nick: string, countParam: string | undefined): void {
  const { network } = ctx;
  const folded = network.fold(nick);
  const count = countParam === undefined ? Infinity : Math.max(1, Number(countParam) || Infinity);
  let shown = 0;
  for (let i = network.whowas.length - 1; i >= 0 && shown < count; i--) {
    const entry = network.whowas[i];
    if (entry?.nickFolded !== folded) continue;
    ctx.numeric(N.RPL_WHOWASUSER, entry.nick, entry.user, entry.host, '*', entry.realname);
    ctx.numeric(N.RPL_WHOISSERVER, entry.nick, network.settings.serverName, new Date(entry.leftAt * 1000).toUTCString());
    shown++;
  }
  if (shown === 0) ctx.numeric(N.ERR_WASNOSUCHNICK, nick, 'There was no such nickname');
  ctx.numeric(N.RPL_ENDOFWHOWAS, nick, 'End of WHOWAS');
}

export const queryCommands: CommandTable = {
  WHO: {
    minParams: 0,
    handler(ctx, message) {
      handleWho(ctx, message.params[0] ?? '*', message.params[1]);
    },
  },
  WHOIS: {
    // Modern IRC "WHOIS": a missing nick is ERR_NONICKNAMEGIVEN, not ERR_NEEDMOREPARAMS.
    minParams: 0,
    handler(ctx, message) {
      // WHOIS [server] nick: with two parameters the nick is the second.
      const nick = message.params[1] ?? message.params[0] ?? '';
      if (nick === '') ctx.numeric(N.ERR_NONICKNAMEGIVEN, 'No nickname given');
      else handleWhois(ctx, nick);
    },
  },
  WHOWAS: {
    // Modern IRC "WHOWAS" allows 431 or 461 for a missing nick; 431 as for WHOIS.
    minParams: 0,
    handler(ctx, message) {
      const nick = message.params[0] ?? '';
      if (nick === '') ctx.numeric(N.ERR_NONICKNAMEGIVEN, 'No nickname given');
      else handleWhowas(ctx, nick, message.params[1]);
    },
  },
  ISON: {
    minParams: 1,
    handler(ctx, message) {
      const online = message.params
        .flatMap((p) => p.split(' '))
        .filter((nick) => nick !== '')
        .map((nick) => ctx.network.findNick(nick)?.nick)
        .filter((nick): nick is string => nick !== undefined);
      ctx.numeric(N.RPL_ISON, online.join(' '));
    },
  },
  USERHOST: {
    minParams: 1,
    handler(ctx, message) {
      const replies = message.params.slice(0, 5).flatMap((nick) => {
        const target = ctx.network.findNick(nick);
        if (target === undefined) return [];
        return [`${target.nick}${target.isOper ? '*' : ''}=${target.away === undefined ? '+' : '-'}${target.user}@${target.host}`];
      });
      ctx.numeric(N.RPL_USERHOST, replies.join(' '));
    },
  },
  LUSERS: {
    minParams: 0,
    handler(ctx) {
      sendLusers(ctx);
    },
  },
  MOTD: {
    minParams: 0,
    handler(ctx) {
      sendMotd(ctx);
    },
  },
  VERSION: {
    minParams: 0,
    handler(ctx) {
      ctx.numeric(N.RPL_VERSION, ctx.server.version, ctx.network.settings.serverName, 'Natter, a chat server that speaks IRC');
      sendIsupport(ctx);
    },
  },
  TIME: {
    minParams: 0,
    handler(ctx) {
      const now = ctx.network.clock.now();
      ctx.numeric(N.RPL_TIME, ctx.network.settings.serverName, String(Math.floor(now / 1000)), '0', new Date(now).toUTCString());
    },
  },
  ADMIN: {
    minParams: 0,
    handler(ctx) {
      const { settings } = ctx.network;
      ctx.numeric(N.RPL_ADMINME, settings.serverName, 'Administrative info');
      ctx.numeric(N.RPL_ADMINLOC1, settings.admin.location1);
      ctx.numeric(N.RPL_ADMINLOC2, settings.admin.location2);
      ctx.numeric(N.RPL_ADMINEMAIL, settings.admin.email);
    },
  },
  INFO: {
    minParams: 0,
    handler(ctx) {
      for (const line of [
        `Natter ${ctx.server.version}`,
        'A self-hosted chat server that speaks IRC with IRCv3 extensions.',
        `Online since ${new Date(ctx.network.startedAt).toUTCString()}`,
      ]) {
        ctx.numeric(N.RPL_INFO, line);
      }
      ctx.numeric(N.RPL_ENDOFINFO, 'End of INFO list');
    },
  },
  HELP: {
    minParams: 0,
    handler(ctx, message) {
      const subject = (message.params[0] ?? 'index').toLowerCase();
      const lines = HELP_TOPICS.get(subject);
      if (lines === undefined) {
        ctx.numeric(N.ERR_HELPNOTFOUND, subject, 'No help available on this topic');
        return;
      }
      const [first = '', ...rest] = lines;
      ctx.numeric(N.RPL_HELPSTART, subject, first);
      for (const line of rest) ctx.numeric(N.RPL_HELPTXT, subject, line);
      ctx.numeric(N.RPL_ENDOFHELP, subject, 'End of /HELP');
    },
  },
};

