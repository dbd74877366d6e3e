/**
 * AUTHENTICATE: IRCv3 SASL 3.2 with PLAIN, SCRAM-SHA-256 and EXTERNAL, 400-byte chunks both ways,
 * and the 900-908 numerics. Failed attempts are throttled per account and per IP address.
 */
import { logIn } from '../core/accounts.js';
import type { SaslExchange } from '../core/auth.js';
import type { AccountRecord } from '../core/store.js';
import { decodeBase64, encodeBase64 } from '../protocol/base64.js';
import * as N from '../protocol/numerics.js';
import type { CommandContext } from './context.js';
import { sendLoggedIn } from './register.js';
import type { CommandTable } from './types.js';

const CHUNK = 400;
/** A SASL payload bigger than this (decoded, from all chunks) is refused with 905. */
const MAX_PAYLOAD = 8192;
const MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'EXTERNAL'];

export interface SaslState {
  readonly mechanism: string;
  /** base64 received so far for the current client message. */
  buffer: string;
  exchange: SaslExchange | undefined;
  /** The (casefolded) account named in SCRAM's client-first message, kept for the failure of a later step. */
  scramUser: string | undefined;
  /** Set after the server's last challenge for SCRAM: the next "+" completes the login. */
  pendingAccount: AccountRecord | undefined;
}

const states = new WeakMap<CommandContext, SaslState>();

function sendChallenge(ctx: CommandContext, data: string): void {
  const encoded = encodeBase64(data);
  if (encoded === '') {
    ctx.fromServer('AUTHENTICATE', ['+']);
    return;
  }
  for (let i = 0; i < encoded.length; i += CHUNK) ctx.fromServer('AUTHENTICATE', [encoded.slice(i, i + CHUNK)]);
  if (encoded.length % CHUNK === 0) ctx.fromServer('AUTHENTICATE', ['+']);
}

function fail(ctx: CommandContext, text = 'SASL authentication failed'): void {
  states.delete(ctx);
  ctx.numeric(N.ERR_SASLFAIL, text);
}

function succeed(ctx: CommandContext, account: AccountRecord): void {
  states.delete(ctx);
  const { session, network, server } = ctx;
  server.loginThrottle.succeed(`account:${account.nameFolded}`);
  logIn(network, session, account);
  sendLoggedIn(ctx, account);
  ctx.numeric(N.RPL_SASLSUCCESS, 'SASL authentication successful');
  ctx.log('info', { account: account.name, ip: session.ip }, 'logged in');
}

/**
 * Seconds before this client may try a password again, for the account or from its address (0: go ahead).
 * Shared by SASL and NickServ IDENTIFY/DROP, so no path escapes the throttle.
 */
export function loginWait(ctx: CommandContext, accountFolded: string | undefined): number {
  const throttle = ctx.server.loginThrottle;
  return Math.max(throttle.retryAfter(`ip:${ctx.session.ip}`), accountFolded === undefined ? 0 : throttle.retryAfter(`account:${accountFolded}`));
}

export function throttledText(wait: number): string {
  return `Too many failed logins; try again in ${wait} seconds`;
}

/** Counts a wrong password against the account and the address, and logs it (never the password or payload). */
export function recordFailedLogin(ctx: CommandContext, accountFolded: string | undefined, mechanism: string): void {
  const throttle = ctx.server.loginThrottle;
  throttle.fail(`ip:${ctx.session.ip}`);
  if (accountFolded !== undefined) throttle.fail(`account:${accountFolded}`);
  ctx.log('warn', { account: accountFolded, mechanism, ip: ctx.session.ip }, 'failed login');
}

/**
 * Ends an exchange still in progress with 906. IRCv3 SASL 3.1: "If the client completes registration ... while
 * the SASL authentication is still in progress, the server SHOULD abort it and send a 906 numeric".
 */
export function abortSasl(ctx: CommandContext): void {
  if (!states.delete(ctx)) return;
  ctx.numeric(N.ERR_SASLABORTED, 'SASL authentication aborted');
}

async function plain(ctx: CommandContext, payload: string): Promise<void> {
  const [authzid = '', authcid = '', password = ''] = payload.split('\0');
  const folded = ctx.network.fold(authcid);
  if (authcid === '' || (authzid !== '' && ctx.network.fold(authzid) !== folded)) {
    fail(ctx);
    return;
  }
  const wait = loginWait(ctx, folded);
  if (wait > 0) {
    fail(ctx, throttledText(wait));
    return;
  }
  const account = await ctx.server.store.findAccount(folded);
  // Verify against a real hash even for an unknown account, so timing does not tell which accounts exist.
  const ok = await ctx.server.auth.verifyPassword(account?.passwordHash, password);
  if (account === undefined || !ok) {
    recordFailedLogin(ctx, folded, 'PLAIN');
    fail(ctx);
    return;
  }
  succeed(ctx, account);
}

async function external(ctx: CommandContext, payload: string): Promise<void> {
  const { session, server, network } = ctx;
  const account = ctx.device.certfp === undefined ? undefined : await server.store.findAccountByCertfp(ctx.device.certfp);
  if (account === undefined || (payload !== '' && network.fold(payload) !== account.nameFolded)) {
    // Logged, not counted: no password was guessed, and a client trying EXTERNAL before PLAIN must not lock its
    // address out.
    ctx.log('warn', { account: account?.nameFolded, mechanism: 'EXTERNAL', ip: session.ip, certfp: ctx.device.certfp }, 'failed login');
    fail(ctx, ctx.device.certfp === undefined ? 'SASL EXTERNAL needs a TLS client certificate' : 'SASL authentication failed: no account has this certificate');
    return;
  }
  succeed(ctx, account);
}

async function scramStep(ctx: CommandContext, state: SaslState, payload: string): Promise<void> {
  const { server, network } = ctx;
  if (state.pendingAccount !== undefined) {
    // RFC 5802 over IRCv3 SASL: the client acknowledges the server signature with an empty message.
    if (payload !== '') {
      fail(ctx);
      return;
    }
    succeed(ctx, state.pendingAccount);
    return;
  }
  state.exchange ??= server.auth.scramExchange(async (name) => {
    const folded = network.fold(name);
    state.scramUser = folded;
    // A throttled account gets a decoy challenge like an unknown one, then the refusal below.
    return loginWait(ctx, folded) > 0 ? undefined : (await server.store.findAccount(folded))?.scram;
  });
  try {
    const step = await state.exchange.step(payload);
    if (step.kind === 'challenge') {
      const wait = loginWait(ctx, state.scramUser);
      if (wait > 0) {
        fail(ctx, throttledText(wait));
        return;
      }
      sendChallenge(ctx, step.data);
      return;
    }
    const account = await server.store.findAccount(network.fold(step.username));
    if (account === undefined) throw new Error('account vanished');
    state.pendingAccount = account;
    sendChallenge(ctx, step.data ?? '');
  } catch {
    // The username of the client-first message is kept in the state: a wrong proof (the second step) counts
    // against the account, not only against the address.
    recordFailedLogin(ctx, state.scramUser, 'SCRAM-SHA-256');
    fail(ctx);
  }
}

async function runMessage(ctx: CommandContext, state: SaslState, payload: string): Promise<void> {
  if (state.mechanism === 'PLAIN') await plain(ctx, payload);
  else if (state.mechanism === 'EXTERNAL') await external(ctx, payload);
  else await scramStep(ctx, state, payload);
}

export const saslCommands: CommandTable = {
  AUTHENTICATE: {
    minParams: 1,
    preRegistration: true,
    async handler(ctx, message) {
      const arg = message.params[0] ?? '';
      const { session } = ctx;
      const state = states.get(ctx);
      if (arg === '*') {
        // IRCv3 SASL 3.1: "The client can abort an authentication by sending an asterisk as the data. The server
        // will send a 906 numeric" (also when nothing was in progress, as Ergo does).
        states.delete(ctx);
        ctx.numeric(N.ERR_SASLABORTED, 'SASL authentication aborted');
        return;
      }
      if (state === undefined) {
        if (session.account !== undefined) {
          ctx.numeric(N.ERR_SASLALREADY, 'You have already authenticated using SASL');
          return;
        }
        const mechanism = arg.toUpperCase();
        if (!MECHANISMS.includes(mechanism)) {
          ctx.numeric(N.RPL_SASLMECHS, MECHANISMS.join(','), 'are available SASL mechanisms');
          ctx.numeric(N.ERR_SASLFAIL, 'SASL authentication failed');
          return;
        }
        states.set(ctx, { mechanism, buffer: '', exchange: undefined, scramUser: undefined, pendingAccount: undefined });
        ctx.fromServer('AUTHENTICATE', ['+']);
        return;
      }
      // A chunk over 400 bytes, or a message over MAX_PAYLOAD in all, ends the exchange with 905 alone: 905 is itself
      // the failure (IRCv3 SASL 3.1, "If authentication fails, a 904 or 905 numeric will be sent").
      if (arg.length > CHUNK) {
        states.delete(ctx);
        ctx.numeric(N.ERR_SASLTOOLONG, 'SASL message too long');
        return;
      }
      if (arg !== '+') state.buffer += arg;
      if (state.buffer.length > (MAX_PAYLOAD * 4) / 3) {
        states.delete(ctx);
        ctx.numeric(N.ERR_SASLTOOLONG, 'SASL message too long');
        return;
      }
      // A chunk of exactly 400 bytes means more follows (IRCv3 SASL, "AUTHENTICATE").
      if (arg.length === CHUNK) return;
      const decoded = decodeBase64(state.buffer);
      state.buffer = '';
      if (decoded === undefined) {
        fail(ctx, 'SASL message was not valid base64');
        return;
      }
      await runMessage(ctx, state, decoded);
    },
  },
};
