/**
 * CHGHOST <nick> <user> <host>: an operator changes a user's username and host (a vhost, a cloak). Everyone sharing
 * a room sees it as IRCv3 chghost describes (core/network.ts applyHostChanged). Errors are standard replies.
 */
import { FailError } from '../core/errors.js';
import { isValidMiddleParam } from '../protocol/message.js';
import type { CommandTable } from './types.js';

/** The usernames USER gives ("~" and the conservative set of commands/registration.ts), so nick!user@host parses. */
const USERNAME = /^~?[A-Za-z0-9_.\-[\]\\`^{}|]+$/;
/** Host names, IP addresses (IPv6 too) and cloaks such as "user/alice": no '!', '@', ',' or space; not ':' first. */
const HOSTNAME = /^[A-Za-z0-9][A-Za-z0-9.\-:/]*$/;
/** ISUPPORT HOSTLEN (commands/welcome.ts). */
const HOST_LENGTH = 64;

function shown(param: string): string {
  return isValidMiddleParam(param) ? param : '*';
}

export const chghostCommands: CommandTable = {
  CHGHOST: {
    minParams: 3,
    operOnly: true,
    handler(ctx, message) {
      const [nick = '', user = '', host = ''] = message.params;
      const { network, session } = ctx;
      const target = network.findNick(nick);
      if (target === undefined) throw new FailError('CHGHOST', 'NO_SUCH_NICK', [shown(nick)], 'No such nick');
      if (user.length > network.settings.limits.userLength || !USERNAME.test(user)) {
        throw new FailError('CHGHOST', 'INVALID_USERNAME', [shown(user)], `The username must be at most ${network.settings.limits.userLength} letters, digits or _.-[]\\\`^{}| (optionally after ~)`);
      }
      if (host.length > HOST_LENGTH || !HOSTNAME.test(host)) {
        throw new FailError('CHGHOST', 'INVALID_HOSTNAME', [shown(host)], `The host must be at most ${HOST_LENGTH} letters, digits, '.', '-', ':' or '/', starting with a letter or digit`);
      }
      if (user === target.user && host === target.host) {
        ctx.standardReply('NOTE', 'CHGHOST', 'UNCHANGED', target.nick, `${target.nick} already has that username and host`);
        return;
      }
      ctx.server.log('info', { by: session.nick, target: target.nick, from: `${target.user}@${target.host}`, to: `${user}@${host}` }, 'CHGHOST');
      network.publish({ type: 'hostChanged', id: target.id, user, host, time: network.clock.now() });
      ctx.fromServer('NOTICE', [session.nick, `Changed the host of ${target.nick} to ${user}@${host}`]);
    },
  },
};
