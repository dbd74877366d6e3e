/** REGISTER: IRCv3 draft/account-registration (before-connect, custom-account-name). */
import { AccountError, createAccount, logIn } from '../core/accounts.js';
import * as N from '../protocol/numerics.js';
import type { CommandTable } from './types.js';

export const registerCommands: CommandTable = {
  REGISTER: {
    minParams: 3,
    preRegistration: true,
    async handler(ctx, message) {
      const { session, network, server } = ctx;
      const [requested = '', , password = ''] = message.params;
      const fail = (code: string, text: string, name = requested): void => {
        ctx.fromServer('FAIL', ['REGISTER', code, name === '' ? '*' : name, text]);
      };
      if (!network.settings.accounts.registration) {
        fail('DISALLOWED', 'Account registration is disabled on this server');
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
      // Account creation is throttled per address like failed logins, so one client cannot mint accounts in bulk.
      const throttleKey = `register:${session.ip}`;
      if (server.loginThrottle.retryAfter(throttleKey) > 0) {
        fail('TEMPORARILY_UNAVAILABLE', 'Too many accounts registered from your address; try again later', name);
        return;
      }
      try {
        const account = await createAccount(network, server.store, server.auth, name, password);
        server.loginThrottle.fail(throttleKey);
        logIn(network, session, account);
        ctx.fromServer('REGISTER', ['SUCCESS', account.name, 'Account created']);
        const prefix = session.registered ? session.prefix : `${session.nick}!${session.user === '' ? '*' : session.user}@${session.host}`;
        ctx.numeric(N.RPL_LOGGEDIN, prefix, account.name, `You are now logged in as ${account.name}`);
        server.log('info', { account: account.name, ip: session.ip }, 'account registered');
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
