/** NickServ: accounts for clients that only know services (REGISTER, IDENTIFY, GHOST, PASSWORD, DROP, INFO, CERT, LOGOUT). */
import { AccountError, changePassword, createAccount, logIn, logOut, mayGhost } from '../core/accounts.js';
import { quit } from '../core/users.js';
import * as N from '../protocol/numerics.js';
import type { CommandContext } from './context.js';
import { registerService, serviceReply } from './services.js';

const reply = (ctx: CommandContext, text: string): void => {
  serviceReply(ctx, 'NickServ', text);
};

/** Password login shared by NickServ IDENTIFY: same throttling and logging as SASL PLAIN. */
export async function identify(ctx: CommandContext, accountName: string, password: string): Promise<boolean> {
  const { network, server, session } = ctx;
  const folded = network.fold(accountName);
  const throttle = server.loginThrottle;
  const wait = Math.max(throttle.retryAfter(`ip:${session.ip}`), throttle.retryAfter(`account:${folded}`));
  if (wait > 0) {
    reply(ctx, `Too many failed logins; try again in ${wait} seconds.`);
    return false;
  }
  const account = await server.store.findAccount(folded);
  const ok = await server.auth.verifyPassword(account?.passwordHash, password);
  if (account === undefined || !ok) {
    throttle.fail(`ip:${session.ip}`);
    throttle.fail(`account:${folded}`);
    server.log('warn', { account: folded, mechanism: 'NickServ', ip: session.ip }, 'failed login');
    reply(ctx, 'Invalid account name or password.');
    return false;
  }
  throttle.succeed(`account:${folded}`);
  logIn(network, session, account);
  ctx.numeric(N.RPL_LOGGEDIN, session.prefix, account.name, `You are now logged in as ${account.name}`);
  reply(ctx, `You are now logged in as ${account.name}.`);
  server.log('info', { account: account.name, session: session.id, ip: session.ip }, 'logged in');
  return true;
}

registerService('NickServ', {
  REGISTER: {
    usage: '<password> [email]',
    help: 'registers your current nick as an account and logs you in',
    async run(ctx, [password]) {
      const { session, network, server } = ctx;
      if (password === undefined) {
        reply(ctx, 'Usage: REGISTER <password> [email]');
        return;
      }
      if (session.account !== undefined) {
        reply(ctx, `You are already logged in as ${session.account}.`);
        return;
      }
      if (!network.settings.accounts.registration) {
        reply(ctx, 'Account registration is disabled on this server.');
        return;
      }
      try {
        const account = await createAccount(network, server.store, server.auth, session.nick, password);
        logIn(network, session, account);
        ctx.numeric(N.RPL_LOGGEDIN, session.prefix, account.name, `You are now logged in as ${account.name}`);
        reply(ctx, `Account ${account.name} registered; you are logged in.`);
        server.log('info', { account: account.name, ip: session.ip }, 'account registered');
      } catch (error) {
        if (error instanceof AccountError) {
          reply(ctx, error.message);
          return;
        }
        throw error;
      }
    },
  },
  IDENTIFY: {
    usage: '[account] <password>',
    help: 'logs you in',
    async run(ctx, args) {
      const [first, second] = args;
      if (first === undefined) {
        reply(ctx, 'Usage: IDENTIFY [account] <password>');
        return;
      }
      if (ctx.session.account !== undefined) {
        reply(ctx, `You are already logged in as ${ctx.session.account}.`);
        return;
      }
      await identify(ctx, second === undefined ? ctx.session.nick : first, second ?? first);
    },
  },
  LOGOUT: {
    usage: '',
    help: 'logs you out',
    run(ctx) {
      if (ctx.session.account === undefined) {
        reply(ctx, 'You are not logged in.');
        return;
      }
      logOut(ctx.network, ctx.session);
      ctx.numeric(N.RPL_LOGGEDOUT, ctx.session.prefix, 'You are now logged out');
      reply(ctx, 'You are now logged out.');
    },
  },
  GHOST: {
    usage: '<nick>',
    help: 'disconnects a session using your account or its nick',
    run(ctx, [nick]) {
      if (nick === undefined) {
        reply(ctx, 'Usage: GHOST <nick>');
        return;
      }
      const { network, session } = ctx;
      if (session.account === undefined) {
        reply(ctx, 'You must be logged in to use GHOST.');
        return;
      }
      const target = network.findNick(nick);
      if (target === undefined) {
        reply(ctx, `${nick} is not online.`);
        return;
      }
      if (!mayGhost(network, session, target)) {
        reply(ctx, `${target.nick} is not your account's nick nor one of your sessions.`);
        return;
      }
      const reason = `GHOST command used by ${session.nick}`;
      quit(network, target, reason);
      target.link?.close(reason);
      reply(ctx, `${target.nick} has been disconnected.`);
    },
  },
  PASSWORD: {
    usage: '<new password>',
    help: 'changes your account password',
    async run(ctx, [password]) {
      const { session, network, server } = ctx;
      if (session.account === undefined) {
        reply(ctx, 'You must be logged in to change your password.');
        return;
      }
      if (password === undefined) {
        reply(ctx, 'Usage: PASSWORD <new password>');
        return;
      }
      try {
        await changePassword(network, server.store, server.auth, session.account, password);
        reply(ctx, 'Your password has been changed.');
      } catch (error) {
        if (error instanceof AccountError) {
          reply(ctx, error.message);
          return;
        }
        throw error;
      }
    },
  },
  DROP: {
    usage: '<password>',
    help: 'deletes your account (and the rooms it founded)',
    async run(ctx, [password]) {
      const { session, network, server } = ctx;
      if (session.account === undefined || session.accountId === undefined) {
        reply(ctx, 'You must be logged in to drop your account.');
        return;
      }
      if (password === undefined) {
        reply(ctx, 'Usage: DROP <password> (this cannot be undone)');
        return;
      }
      const account = await server.store.findAccountById(session.accountId);
      if (account === undefined || !(await server.auth.verifyPassword(account.passwordHash, password))) {
        reply(ctx, 'Wrong password.');
        return;
      }
      await server.store.deleteAccount(account.nameFolded);
      logOut(network, session);
      ctx.numeric(N.RPL_LOGGEDOUT, session.prefix, 'You are now logged out');
      reply(ctx, `The account ${account.name} has been deleted.`);
      server.log('info', { account: account.name }, 'account dropped');
    },
  },
  INFO: {
    usage: '[account]',
    help: 'shows an account',
    async run(ctx, [name]) {
      const { network, server, session } = ctx;
      const accountName = name ?? session.account;
      if (accountName === undefined) {
        reply(ctx, 'Usage: INFO <account>');
        return;
      }
      const account = await server.store.findAccount(network.fold(accountName));
      if (account === undefined) {
        reply(ctx, `${accountName} is not a registered account.`);
        return;
      }
      reply(ctx, `Account ${account.name}, registered ${new Date(account.createdAt).toUTCString()}.`);
      const online = [...network.sessions.values()].filter((s) => s.accountId === account.id && s.registered).map((s) => s.nick);
      reply(ctx, online.length === 0 ? 'Not online.' : `Online as ${online.join(', ')}.`);
      if (session.accountId === account.id) {
        const fingerprints = await server.store.listCertfps(account.id);
        reply(ctx, fingerprints.length === 0 ? 'No certificate fingerprints (CERT ADD).' : `Certificate fingerprints: ${fingerprints.join(' ')}`);
      }
    },
  },
  CERT: {
    usage: 'ADD [fingerprint] | DEL <fingerprint> | LIST',
    help: 'manages the TLS client certificates that log you in with SASL EXTERNAL',
    async run(ctx, [action = 'LIST', given]) {
      const { session, server } = ctx;
      if (session.accountId === undefined) {
        reply(ctx, 'You must be logged in to manage certificates.');
        return;
      }
      const fingerprint = (given ?? session.certfp ?? '').replace(/:/g, '').toLowerCase();
      switch (action.toUpperCase()) {
        case 'ADD':
          if (!/^[0-9a-f]{64}$/.test(fingerprint)) {
            reply(ctx, 'Give a SHA-256 fingerprint, or connect with a client certificate over TLS.');
            return;
          }
          try {
            await server.store.addCertfp(session.accountId, fingerprint);
          } catch {
            reply(ctx, 'That fingerprint is already attached to an account.');
            return;
          }
          reply(ctx, `Fingerprint ${fingerprint} added: it now logs you in with SASL EXTERNAL.`);
          return;
        case 'DEL':
          reply(ctx, (await server.store.removeCertfp(session.accountId, fingerprint)) ? `Fingerprint ${fingerprint} removed.` : 'No such fingerprint on your account.');
          return;
        default: {
          const list = await server.store.listCertfps(session.accountId);
          reply(ctx, list.length === 0 ? 'No certificate fingerprints.' : `Fingerprints: ${list.join(' ')}`);
          return;
        }
      }
    },
  },
});
