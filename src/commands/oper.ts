/** OPER, KILL, WALLOPS, REHASH (Modern IRC "Operator Messages"). */
import { ChatError } from '../core/errors.js';
import { sendWallops } from '../core/messaging.js';
import { Outbound } from '../core/outbound.js';
import { becomeOperator, quit } from '../core/users.js';
import { matchWildcard } from '../protocol/mask.js';
import * as N from '../protocol/numerics.js';
import { fitTrailing } from './registration.js';
import type { CommandTable } from './types.js';

export const operCommands: CommandTable = {
  OPER: {
    minParams: 2,
    async handler(ctx, message) {
      const [name = '', password = ''] = message.params;
      const { network, session, server } = ctx;
      const credential = network.settings.opers.find((o) => o.name === name);
      const userhost = network.fold(`${session.user}@${session.host}`);
      // Verify even for an unknown name, so timing does not tell which operator names exist.
      const ok = await server.auth.verifyPassword(credential?.passwordHash, password);
      if (credential === undefined || !ok) {
        server.log('warn', { nick: session.nick, oper: name, ip: session.ip }, 'failed OPER attempt');
        throw new ChatError('passwordMismatch');
      }
      if (credential.hosts.length > 0 && !credential.hosts.some((mask) => matchWildcard(network.fold(mask), userhost))) {
        server.log('warn', { nick: session.nick, oper: name, ip: session.ip }, 'OPER from a host not allowed');
        throw new ChatError('noOperHost');
      }
      becomeOperator(network, session, credential.name);
      ctx.numeric(N.RPL_YOUREOPER, 'You are now an IRC operator');
      server.log('info', { nick: session.nick, oper: name }, 'operator logged in');
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
