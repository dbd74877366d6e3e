/** PASS, NICK, USER, PING, PONG, QUIT (Modern IRC "Connection Messages"). */
import { changeNick, quit } from '../core/users.js';
import { detachDevice, leaveNode } from '../core/devices.js';
import * as N from '../protocol/numerics.js';
import type { CommandTable } from './types.js';
import { protectNick } from './services.js';
import { tryCompleteRegistration } from './welcome.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** Modern IRC "Message format": 512 bytes with the CRLF. */
const MAX_LINE_BYTES = 510;

/**
 * `text` cut (at a UTF-8 character boundary) so that `head` + `text` fits one line: a reason the client
 * could send in 510 bytes no longer fits once the server puts a nick!user@host prefix before it.
 */
export function fitTrailing(head: string, text: string): string {
  const budget = MAX_LINE_BYTES - encoder.encode(head).length;
  const bytes = encoder.encode(text);
  if (bytes.length <= budget) return text;
  let end = Math.max(0, budget);
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
  return decoder.decode(bytes.subarray(0, end));
}

/** Usernames keep to a conservative set so they are safe inside nick!user@host; "~" marks "no ident check". */
function sanitizeUsername(raw: string, maxLength: number): string {
  const cleaned = raw.replace(/[^A-Za-z0-9_.\-[\]\\`^{}|]/g, '').slice(0, maxLength - 1);
  return `~${cleaned === '' ? 'user' : cleaned}`;
}

export const registrationCommands: CommandTable = {
  PASS: {
    minParams: 1,
    preRegistration: true,
    handler(ctx, message) {
      if (ctx.session.registered) {
        ctx.numeric(N.ERR_ALREADYREGISTERED, 'You may not reregister');
        return;
      }
      ctx.pendingPassword = message.params[0];
    },
  },
  NICK: {
    minParams: 0,
    preRegistration: true,
    handler(ctx, message) {
      const nick = message.params[0];
      if (nick === undefined || nick === '') {
        ctx.numeric(N.ERR_NONICKNAMEGIVEN, 'No nickname given');
        return;
      }
      const wasRegistered = ctx.session.registered;
      const before = ctx.session.nickFolded;
      // A second device of an account asks for the nick its first device holds: refused (433) for now, but if it
      // then logs in to that account it joins that user (welcome.ts) without needing a nick of its own.
      if (!wasRegistered) ctx.wantedNick = nick;
      const session = ctx.session;
      const then = (): Promise<void> | undefined => {
        // Cluster mode: the connection may have closed while the nick was claimed (issue 9).
        if (ctx.network.sessions.get(session.id) !== session) return undefined;
        if (!wasRegistered) return tryCompleteRegistration(ctx);
        // A registered user who takes an account's nick must log in to keep it.
        return session.nickFolded === before ? undefined : protectNick(ctx);
      };
      const changing = changeNick(ctx.network, session, nick);
      return changing instanceof Promise ? changing.then(then) : then();
    },
  },
  USER: {
    minParams: 4,
    preRegistration: true,
    handler(ctx, message) {
      const { session, network } = ctx;
      if (session.registered) {
        ctx.numeric(N.ERR_ALREADYREGISTERED, 'You may not reregister');
        return;
      }
      const [username = '', , , realname = ''] = message.params;
      const { limits } = network.settings;
      session.user = sanitizeUsername(username, limits.userLength);
      session.realname = realname.slice(0, limits.realnameLength);
      return tryCompleteRegistration(ctx);
    },
  },
  PING: {
    minParams: 1,
    preRegistration: true,
    handler(ctx, message) {
      ctx.fromServer('PONG', [ctx.network.settings.serverName, message.params[0] ?? '']);
    },
  },
  PONG: {
    minParams: 0,
    preRegistration: true,
    handler() {
      // Any line counts as activity for the ping timeout; net/ records it before dispatch.
    },
  },
  QUIT: {
    minParams: 0,
    preRegistration: true,
    handler(ctx, message) {
      const reason = message.params[0];
      const text = reason === undefined || reason === '' ? 'Client Quit' : `Quit: ${fitTrailing(`:${ctx.session.prefix} QUIT :Quit: `, reason)}`;
      ctx.flush();
      // QUIT from one device of several closes that device only; the user stays with the others (multi-device).
      if (!detachDevice(ctx.session, ctx.device) && !(ctx.session.registered && leaveNode(ctx.network, ctx.session, ctx.device))) quit(ctx.network, ctx.session, text);
      ctx.device.link.close(text);
    },
  },
};
