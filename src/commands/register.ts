/** REGISTER: IRCv3 draft/account-registration (before-connect, custom-account-name). */
import type { AccountRecord } from '../core/store.js';
import { AccountError, createAccount, logIn } from '../core/accounts.js';
import { timingSafeEqualStrings } from '../core/constant-time.js';
import * as N from '../protocol/numerics.js';
import type { CommandContext } from './context.js';
import type { CommandTable } from './types.js';

/** nick!user@host for 900 and 901, also before registration completes ("*" for a USER not given yet). */
export function loginPrefix(ctx: CommandContext): string {
  const { session } = ctx;
  return session.registered ? session.prefix : `${session.nick}!${session.user === '' ? '*' : session.user}@${session.host}`;
}

/** RPL_LOGGEDIN (900) "<nick> <nick>!<ident>@<host> <account> :You are now logged in as <account>". */
export function sendLoggedIn(ctx: CommandContext, account: AccountRecord): void {
  ctx.numeric(N.RPL_LOGGEDIN, loginPrefix(ctx), account.name, `You are now logged in as ${account.name}`);
}

/**
 * Creates an account and logs the session in to it: REGISTER and NickServ REGISTER both come here, so both are
 * held to the same per-address limit (account creation is counted like failed logins, so one client cannot
 * mint accounts in bulk). Throws AccountError.
 */
export async function registerAccount(ctx: CommandContext, name: string, password: string): Promise<AccountRecord> {
  const { session, network, server } = ctx;
  const throttleKey = `register:${session.ip}`;
  if (server.loginThrottle.retryAfter(throttleKey) > 0) {
    throw new AccountError('TEMPORARILY_UNAVAILABLE', 'Too many accounts registered from your address; try again later');
  }
  const account = await createAccount(network, server.store, server.auth, name, password);
  server.loginThrottle.fail(throttleKey);
  logIn(network, session, account);
  ctx.log('info', { account: account.name, ip: session.ip }, 'account registered');
  return account;
}

export const registerCommands: CommandTable = {
  REGISTER: {
    minParams: 3,
    preRegistration: true,
    async handler(ctx, message) {
      const { session, network } = ctx;
      const [requested = '', , password = ''] = message.params;
      const fail = (code: string, text: string, name = requested): void => {
        ctx.fromServer('FAIL', ['REGISTER', code, name === '' ? '*' : name, text]);
      };
      if (!network.settings.accounts.registration) {
        fail('DISALLOWED', 'Account registration is disabled on this server');
        return;
      }
      // account-registration, "Server considerations": registering before connecting must not bypass the server
      // password, so before registration REGISTER needs the right PASS first.
      const serverPassword = network.settings.password;
      if (!session.registered && serverPassword !== undefined && (ctx.pendingPassword === undefined || !timingSafeEqualStrings(ctx.pendingPassword, serverPassword))) {
        fail('DISALLOWED', 'Send the server password (PASS) before registering an account');
        return;
      }
      if (session.account !== undefined) {
        fail('ALREADY_AUTHENTICATED', `You are already logged in as ${session.account}`);
        return;
      }
      if (requested === '*' && session.nickFolded === '') {
        fail('NEED_NICK', 'Send NICK before registering an account named after it');
        return;
      }
      const name = requested === '*' ? session.nick : requested;
      try {
        const account = await registerAccount(ctx, name, password);
        ctx.fromServer('REGISTER', ['SUCCESS', account.name, 'Account created']);
        sendLoggedIn(ctx, account);
      } catch (error) {
        if (error instanceof AccountError) {
          fail(error.code, error.message, name);
          return;
        }
        throw error;
      }
    },
  },
};
