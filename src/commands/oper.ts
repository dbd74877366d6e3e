/** OPER, KILL, WALLOPS, REHASH (Modern IRC "Operator Messages"). */
import { ChatError } from '../core/errors.js';
import { sendWallops } from '../core/messaging.js';
import { Outbound } from '../core/outbound.js';
import { becomeOperator, quit } from '../core/users.js';
import { matchWildcard } from '../protocol/mask.js';
import * as N from '../protocol/numerics.js';
import { fitTrailing } from './registration.js';
import { loginWait, throttledText } from './sasl.js';
import type { CommandTable } from './types.js';

export const operCommands: CommandTable = {
  OPER: {
    minParams: 2,
    async handler(ctx, message) {
      const [name = '', password = ''] = message.params;
      const { network, session, server } = ctx;
      const credential = network.settings.opers.find((o) => o.name === name);
      const userhost = network.fold(`${session.user}@${session.host}`);
      // Operator passwords are guessed like account passwords: the same throttle, per address (shared with SASL and
      // NickServ) and per operator name, so neither one address nor many can try them at the flood-control rate.
      const throttle = server.loginThrottle;
      const operKey = `oper:${name}`;
      const wait = Math.max(loginWait(ctx, undefined), throttle.retryAfter(operKey));
      if (wait > 0) throw new ChatError('passwordMismatch', [], throttledText(wait));
      // Verify even for an unknown name, so timing does not tell which operator names exist.
      const ok = await server.auth.verifyPassword(credential?.passwordHash, password);
      // A host the block does not allow is told so whatever the password: answering 491 only to the right one would
      // confirm it to whoever guesses from anywhere.
      if (credential !== undefined && credential.hosts.length > 0 && !credential.hosts.some((mask) => matchWildcard(network.fold(mask), userhost))) {
        ctx.log('warn', { nick: session.nick, oper: name, ip: session.ip }, 'OPER from a host not allowed');
        throw new ChatError('noOperHost');
      }
      if (credential === undefined || !ok) {
        throttle.fail(`ip:${session.ip}`);
        throttle.fail(operKey);
        ctx.log('warn', { nick: session.nick, oper: name, ip: session.ip }, 'failed OPER attempt');
        throw new ChatError('passwordMismatch');
      }
      throttle.succeed(operKey);
      becomeOperator(network, session, credential.name);
      ctx.numeric(N.RPL_YOUREOPER, 'You are now an IRC operator');
      ctx.log('info', { nick: session.nick, oper: name }, 'operator logged in');
    },
  },
  KILL: {
    minParams: 2,
    operOnly: true,
    handler(ctx, message) {
      const [nick = '', fullReason = ''] = message.params;
      const { network, session } = ctx;
      if (network.fold(nick) === network.fold(network.settings.serverName)) throw new ChatError('cantKillServer');
      const target = network.findNick(nick);
      if (target === undefined) throw new ChatError('noSuchNick', [nick]);
      // Both the KILL to the victim and the QUIT its peers see must fit one line.
      const killHead = `:${session.prefix} KILL ${target.nick} :`;
      const quitHead = `:${target.prefix} QUIT :Killed (${session.nick} ())`;
      const reason = fitTrailing(killHead.length > quitHead.length ? killHead : quitHead, fullReason);
      const text = `Killed (${session.nick} (${reason}))`;
      ctx.server.log('info', { by: session.nick, target: target.nick, reason }, 'KILL');
      // The victim sees the KILL line before its ERROR, as servers send it.
      target.send(new Outbound(session.prefix, 'KILL', [target.nick, reason], network.clock.now()));
      quit(network, target, text);
      target.closeAll(text);
    },
  },
  WALLOPS: {
    minParams: 1,
    operOnly: true,
    handler(ctx, message) {
      const { session } = ctx;
      sendWallops(ctx.network, session, fitTrailing(`:${session.prefix} WALLOPS :`, message.params[0] ?? ''));
    },
  },
  REHASH: {
    minParams: 0,
    operOnly: true,
    async handler(ctx) {
      ctx.numeric(N.RPL_REHASHING, ctx.server.configSource, 'Rehashing');
      try {
        await ctx.server.rehash();
        ctx.fromServer('NOTICE', [ctx.session.nick, 'Configuration reloaded']);
      } catch (error) {
        ctx.fromServer('FAIL', ['REHASH', 'CONFIG_INVALID', `The configuration was not reloaded: ${error instanceof Error ? error.message : String(error)}`]);
      }
    },
  },
};
