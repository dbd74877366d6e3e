/** NickServ: accounts for clients that only know services (REGISTER, IDENTIFY, GHOST, PASSWORD, DROP, INFO, CERT, LOGOUT). */
import { AccountError, changePassword, logIn, logOut, mayGhost, sessionsOf } from '../core/accounts.js';
import { Outbound } from '../core/outbound.js';
import { StoreConflictError } from '../core/store.js';
import { quit } from '../core/users.js';
import * as N from '../protocol/numerics.js';
import type { CommandContext } from './context.js';
import { registerAccount, sendLoggedIn } from './register.js';
import { loginWait, recordFailedLogin, throttledText } from './sasl.js';
import { protectNick, registerService, serviceReply } from './services.js';
import { forgetAccountRooms } from '../core/registered-rooms.js';

const reply = (ctx: CommandContext, text: string): void => {
  serviceReply(ctx, 'NickServ', text);
};

/** Password login for NickServ IDENTIFY: the same throttling and logging as SASL PLAIN. */
export async function identify(ctx: CommandContext, accountName: string, password: string): Promise<boolean> {
  const { network, server, session } = ctx;
  const folded = network.fold(accountName);
  const wait = loginWait(ctx, folded);
  if (wait > 0) {
    reply(ctx, `${throttledText(wait)}.`);
    return false;
  }
  const account = await server.store.findAccount(folded);
  const ok = await server.auth.verifyPassword(account?.passwordHash, password);
  if (account === undefined || !ok) {
    recordFailedLogin(ctx, folded, 'NickServ');
    reply(ctx, 'Invalid account name or password.');
    return false;
  }
  server.loginThrottle.succeed(`account:${folded}`);
  logIn(network, session, account);
  sendLoggedIn(ctx, account);
  reply(ctx, `You are now logged in as ${account.name}.`);
  ctx.log('info', { account: account.name, ip: session.ip }, 'logged in');
  return true;
}

registerService('NickServ', {
  REGISTER: {
    usage: '<password> [email]',
    help: 'registers your current nick as an account and logs you in',
    async run(ctx, args) {
      const { session, network } = ctx;
      const [password, email] = args;
      if (password === undefined) {
        reply(ctx, 'Usage: REGISTER <password> [email]');
        return;
      }
      // "REGISTER <password> <email>" is what clients send; any other second word means a password with spaces,
      // which cannot be told from an email here: refused rather than silently cut to its first word.
      if (args.length > 2 || (email !== undefined && !/^[^@\s]+@[^@\s]+$/.test(email))) {
        reply(ctx, 'A password given to NickServ REGISTER cannot contain spaces. Choose one without, or use REGISTER <account> * :<password>.');
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
        const account = await registerAccount(ctx, session.nick, password);
        sendLoggedIn(ctx, account);
        reply(ctx, `Account ${account.name} registered; you are logged in.`);
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
    help: 'logs you in (a password with spaces needs the account named first)',
    async run(ctx, args, rest) {
      const [first] = args;
      if (first === undefined) {
        reply(ctx, 'Usage: IDENTIFY [account] <password>');
        return;
      }
      if (ctx.session.account !== undefined) {
        reply(ctx, `You are already logged in as ${ctx.session.account}.`);
        return;
      }
      // One word is a password for the account named like the nick; otherwise the first word is the account and
      // everything after it the password, spaces included.
      if (args.length === 1) await identify(ctx, ctx.session.nick, first);
      else await identify(ctx, first, rest.slice(first.length).replace(/^\s+/, ''));
    },
  },
  LOGOUT: {
    usage: '',
    help: 'logs you out',
    async run(ctx) {
      if (ctx.session.account === undefined) {
        reply(ctx, 'You are not logged in.');
        return;
      }
      logOut(ctx.network, ctx.session);
      ctx.numeric(N.RPL_LOGGEDOUT, ctx.session.prefix, 'You are now logged out');
      reply(ctx, 'You are now logged out.');
      // Logged out, the session holds its account's nick like anyone else: it gets the grace period to log in again.
      await protectNick(ctx);
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
      target.closeAll(reason);
      reply(ctx, `${target.nick} has been disconnected.`);
    },
  },
  PASSWORD: {
    usage: '<new password>',
    help: 'changes your account password',
    async run(ctx, _args, rest) {
      const { session, network, server } = ctx;
      const password = rest === '' ? undefined : rest;
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
    async run(ctx, _args, rest) {
      const { session, network, server } = ctx;
      const password = rest === '' ? undefined : rest;
      if (session.account === undefined || session.accountId === undefined) {
        reply(ctx, 'You must be logged in to drop your account.');
        return;
      }
      if (password === undefined) {
        reply(ctx, 'Usage: DROP <password> (this cannot be undone)');
        return;
      }
      const account = await server.store.findAccountById(session.accountId);
      if (account === undefined) {
        reply(ctx, 'You must be logged in to drop your account.');
        return;
      }
      // A password check like any login: throttled and counted, so DROP cannot be used to guess it.
      const wait = loginWait(ctx, account.nameFolded);
      if (wait > 0) {
        reply(ctx, `${throttledText(wait)}.`);
        return;
      }
      if (!(await server.auth.verifyPassword(account.passwordHash, password))) {
        recordFailedLogin(ctx, account.nameFolded, 'NickServ DROP');
        reply(ctx, 'Wrong password.');
        return;
      }
      // Its uploads' files first: the rows would go with the account, leaving the files unreachable (issue 7).
      await server.uploads?.deleteAccountUploads(account.id);
      await server.store.deleteAccount(account.nameFolded);
      // The store dropped the rooms it founded and its roles; the in-memory registrations follow.
      forgetAccountRooms(network, account.id);
      // Every session logged in to the account is logged out, not only this one: none may keep a dead account.
      const now = network.clock.now();
      for (const other of sessionsOf(network, account.id)) {
        logOut(network, other);
        if (other === session) continue;
        other.send(new Outbound(network.settings.serverName, N.RPL_LOGGEDOUT, [other.nick, other.prefix, 'You are now logged out'], now));
        other.send(new Outbound(`NickServ!NickServ@${network.settings.serverName}`, 'NOTICE', [other.nick, `The account ${account.name} has been deleted.`], now));
      }
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
      const fingerprint = (given ?? ctx.device.certfp ?? '').replace(/:/g, '').toLowerCase();
      switch (action.toUpperCase()) {
        case 'ADD':
          if (!/^[0-9a-f]{64}$/.test(fingerprint)) {
            reply(ctx, 'Give a SHA-256 fingerprint, or connect with a client certificate over TLS.');
            return;
          }
          try {
            await server.store.addCertfp(session.accountId, fingerprint);
          } catch (error) {
            if (!(error instanceof StoreConflictError)) throw error;
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
