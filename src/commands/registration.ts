/** PASS, NICK, USER, PING, PONG, QUIT (Modern IRC "Connection Messages"). */
import { changeNick, quit } from '../core/users.js';
import * as N from '../protocol/numerics.js';
import type { CommandTable } from './types.js';
import { tryCompleteRegistration } from './welcome.js';

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
      changeNick(ctx.network, ctx.session, nick);
      tryCompleteRegistration(ctx);
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
      tryCompleteRegistration(ctx);
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
      const text = reason === undefined || reason === '' ? 'Client Quit' : `Quit: ${reason}`;
      ctx.flush();
      quit(ctx.network, ctx.session, text);
      ctx.session.link?.close(text);
    },
  },
};
