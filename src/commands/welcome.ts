/** Completing registration: the welcome burst 001-005, LUSERS and the MOTD (Modern IRC "Connection Registration"). */
import { timingSafeEqualStrings } from '../core/constant-time.js';
import { CHANMODES, STATUS_LETTERS } from '../core/modes.js';
import { becomeOperator, registerSession } from '../core/users.js';
import { abortSasl } from './sasl.js';
import { protectNick } from './services.js';
import type { ServerSettings } from '../core/settings.js';
import type { IsupportTokens } from '../protocol/isupport.js';
import { isupportLines } from '../protocol/isupport.js';
import * as N from '../protocol/numerics.js';
import type { CommandContext } from './context.js';
import { joinRooms, sendNames, sendTopic } from './channel.js';
import { attachDevice, sessionOfAccount } from '../core/devices.js';
import { Outbound } from '../core/outbound.js';
import type { Session } from '../core/session.js';
import { Cap } from '../protocol/caps.js';
import { formatMarker } from '../core/read-markers.js';

export function isupportTokens(settings: ServerSettings): IsupportTokens {
  const { limits } = settings;
  const targets = limits.maxTargets;
  return [
    ['AWAYLEN', limits.awayLength],
    ['BOT', 'B'],
    ['CASEMAPPING', settings.casemapping],
    ['CHANLIMIT', `#:${limits.channelsPerUser}`],
    ['CHANMODES', CHANMODES],
    ['CHANNELLEN', limits.channelLength],
    ['CHANTYPES', '#'],
    ...(settings.history.enabled ? ([['CHATHISTORY', settings.history.maxPerQuery]] as const) : []),
    ['ELIST', 'CMNTU'],
    ['EXCEPTS', 'e'],
    // Mutes are bans with an "m:" prefix (Modern IRC EXTBAN: no prefix character, type m).
    ['EXTBAN', ',m'],
    ['HOSTLEN', 64],
    ['INVEX', 'I'],
    ['KICKLEN', limits.kickLength],
    ['MAXLIST', `beI:${limits.listEntries}`],
    ['MAXTARGETS', targets],
    ['MODES', limits.modesPerCommand],
    // MONITOR=0 would read as "no limit" to some clients: a server that allows no entries does not offer MONITOR.
    ...(limits.monitorEntries > 0 ? [['MONITOR', limits.monitorEntries] as const] : []),
    ['MSGREFTYPES', 'timestamp,msgid'],
    // natter.chat/view-once: seconds a view-once message waits for its recipients, for clients to say so.
    ['natter.chat/VIEWONCE', Math.round(settings.viewOnce.ttlHours * 3600)],
    ['NETWORK', settings.networkName],
    ['NICKLEN', limits.nickLength],
    ['PREFIX', `(${STATUS_LETTERS})~&@%+`],
    ['SAFELIST', true],
    ['STATUSMSG', '~&@%+'],
    ['TARGMAX', `JOIN:${targets},KICK:${targets},NAMES:1,NOTICE:${targets},PART:${targets},PRIVMSG:${targets},TAGMSG:${targets},WHOIS:1`],
    ['TOPICLEN', limits.topicLength],
    ['USERLEN', limits.userLength],
    ['UTF8ONLY', true],
    ['WHOX', true],
    // soju.im/FILEHOST (issue 7): where clients POST images, only while HTTP(S) listens and uploads are enabled.
    ...(settings.fileHost === undefined ? [] : ([['soju.im/FILEHOST', settings.fileHost]] as const)),
  ];
}

/** The 005 lines depend only on the settings object, which REHASH replaces: computed once per settings. */
const isupportCache = new WeakMap<ServerSettings, string[][]>();

export function sendIsupport(ctx: CommandContext): void {
  const { settings } = ctx.network;
  let lines = isupportCache.get(settings);
  if (lines === undefined) {
    lines = isupportLines(isupportTokens(settings));
    isupportCache.set(settings, lines);
  }
  for (const tokens of lines) {
    ctx.numeric(N.RPL_ISUPPORT, ...tokens, 'are supported by this server');
  }
}

/** Registration completes once NICK and USER are given and CAP negotiation (if any) has ended. */
export function tryCompleteRegistration(ctx: CommandContext): Promise<void> | undefined {
  const { session, network } = ctx;
  if (session.registered || ctx.device.capNegotiating || session.user === '') return undefined;
  const user = session.accountId !== undefined && network.settings.accounts.multiclient ? sessionOfAccount(network, session.accountId) : undefined;
  if (session.nickFolded === '' && (user === undefined || ctx.wantedNick === undefined)) return undefined;
  const { password } = network.settings;
  if (password !== undefined && (ctx.pendingPassword === undefined || !timingSafeEqualStrings(ctx.pendingPassword, password))) {
    ctx.numeric(N.ERR_PASSWDMISMATCH, 'Password incorrect');
    ctx.flush();
    ctx.device.link.close('Bad password');
    return undefined;
  }
  abortSasl(ctx);
  if (network.settings.accounts.required && session.account === undefined) {
    ctx.fromServer('FAIL', ['*', 'ACCOUNT_REQUIRED', 'This server only admits clients logged in with SASL']);
    ctx.flush();
    ctx.device.link.close('Account required');
    return undefined;
  }
  ctx.pendingPassword = undefined;
  if (user !== undefined) return joinAsDevice(ctx, user);
  session.updatePrefix();
  registerSession(network, session);
  countRegistration(ctx, false);
  sendWelcome(ctx);
  return afterRegistration(ctx);
}

/**
 * Multi-device: this connection becomes one more device of the account's user already online. It is welcomed
 * under that user's nick and given the user's rooms as if it had just joined them (JOIN, topic, NAMES), so the
 * client's view matches; nobody else sees anything.
 */
async function joinAsDevice(ctx: CommandContext, user: Session): Promise<void> {
  attachDevice(ctx.network, ctx.session, ctx.device, user);
  ctx.session = user;
  countRegistration(ctx, true);
  sendWelcome(ctx);
  if (user.away !== undefined) ctx.numeric(N.RPL_NOWAWAY, 'You have been marked as being away');
  const { device, network } = ctx;
  const markers = device.hasCap(Cap.readMarker) && user.accountId !== undefined;
  for (const channel of [...user.channels.keys()]) {
    ctx.push(new Outbound(user.prefix, 'JOIN', device.hasCap(Cap.extendedJoin) ? [channel.name, user.account ?? '*', user.realname] : [channel.name], network.clock.now(), undefined, user.account));
    // draft/read-marker: after each JOIN, where the account has read up to in that room.
    if (markers && user.accountId !== undefined) {
      const marker = await ctx.server.store.getReadMarker(user.accountId, channel.nameFolded).catch(() => undefined);
      ctx.fromServer('MARKREAD', [channel.name, formatMarker(marker)]);
    }
    sendTopic(ctx, channel, false);
    if (!device.hasCap(Cap.noImplicitNames)) sendNames(ctx, channel);
  }
}

/**
 * What depends on the store once a session is on the network: operator accounts get +o; nicks are guarded. Then the
 * configured `autojoin` rooms, as if the client had sent JOIN for each (InspIRCd's conn_join): guests, SASL logins
 * and REGISTER before connecting all end here; an extra device of a user online does not (joinAsDevice).
 */
async function afterRegistration(ctx: CommandContext): Promise<void> {
  const { session, network, server } = ctx;
  if (session.accountId !== undefined) {
    const account = await server.store.findAccountById(session.accountId);
    if (account?.isOper === true && !session.isOper) becomeOperator(network, session, `account:${account.name}`);
  }
  await protectNick(ctx);
  const rooms = network.settings.autojoin;
  // The connection may have closed while the store answered: a session gone from the network joins nothing.
  if (rooms.length === 0 || network.sessions.get(session.id) !== session) return;
  // The welcome goes out before the JOINs, which the network delivers to the connection directly.
  ctx.flushPartial();
  await joinRooms(ctx, rooms);
}

/** For the metrics and the log: a connection completed registration (`device`: as one more device of a user online). */
function countRegistration(ctx: CommandContext, device: boolean): void {
  const { session, network } = ctx;
  network.counters.registrations++;
  ctx.log('info', { nick: session.nick, account: session.account, ...(device ? { device: true } : {}) }, 'registered');
}

function sendWelcome(ctx: CommandContext): void {
  const { session, network, server } = ctx;
  const { settings } = network;
  ctx.numeric(N.RPL_WELCOME, `Welcome to the ${settings.networkName} IRC Network, ${session.prefix}`);
  ctx.numeric(N.RPL_YOURHOST, `Your host is ${settings.serverName}, running version ${server.version}`);
  ctx.numeric(N.RPL_CREATED, `This server was created ${new Date(network.startedAt).toUTCString()}`);
  ctx.numeric(N.RPL_MYINFO, settings.serverName, server.version, 'Biow', 'beIiklmnst', 'beIklqaohv');
  sendIsupport(ctx);
  sendLusers(ctx);
  sendMotd(ctx);
  if (session.modes !== 0) ctx.send(session.nick, 'MODE', [session.nick, session.modeString()]);
}

export function sendLusers(ctx: CommandContext): void {
  const { network } = ctx;
  const invisible = network.invisibleCount;
  const opers = network.operCount;
  const users = network.registeredCount;
  ctx.numeric(N.RPL_LUSERCLIENT, `There are ${users - invisible} users and ${invisible} invisible on 1 servers`);
  ctx.numeric(N.RPL_LUSEROP, String(opers), 'operator(s) online');
  ctx.numeric(N.RPL_LUSERUNKNOWN, String(ctx.server.unregisteredCount()), 'unknown connection(s)');
  ctx.numeric(N.RPL_LUSERCHANNELS, String(network.channels.size), 'channels formed');
  ctx.numeric(N.RPL_LUSERME, `I have ${users} clients and 1 servers`);
  ctx.numeric(N.RPL_LOCALUSERS, String(users), String(network.maxUsers), `Current local users ${users}, max ${network.maxUsers}`);
  ctx.numeric(N.RPL_GLOBALUSERS, String(users), String(network.maxUsers), `Current global users ${users}, max ${network.maxUsers}`);
}

export function sendMotd(ctx: CommandContext): void {
  const { settings } = ctx.network;
  if (settings.motd.length === 0) {
    ctx.numeric(N.ERR_NOMOTD, 'MOTD File is missing');
    return;
  }
  ctx.numeric(N.RPL_MOTDSTART, `- ${settings.serverName} Message of the day - `);
  for (const line of settings.motd) ctx.numeric(N.RPL_MOTD, `- ${line}`);
  ctx.numeric(N.RPL_ENDOFMOTD, 'End of /MOTD command.');
}
