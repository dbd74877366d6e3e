/**
 * Accounts: creating them, logging in and out, and keeping an account's nick for its owner
 * (an intruder who does not log in within the grace period is renamed to a guest nick).
 */
import type { Authenticator } from './auth.js';
import type { Network } from './network.js';
import type { Session } from './session.js';
import type { AccountRecord, Store } from './store.js';
import { StoreConflictError } from './store.js';
import { becomeOperator, changeUserModes, isValidNick, withNickClaim } from './users.js';

/** Names the services answer to; nobody may take them as a nick or an account. */
export const SERVICE_NICKS: readonly string[] = ['NickServ', 'ChanServ'];

/** Why an account could not be created, as draft/account-registration names it (FAIL REGISTER <code>). */
export type AccountFailure = 'ACCOUNT_EXISTS' | 'BAD_ACCOUNT_NAME' | 'WEAK_PASSWORD' | 'UNACCEPTABLE_PASSWORD' | 'TEMPORARILY_UNAVAILABLE';

export class AccountError extends Error {
  override name = 'AccountError';
  constructor(
    readonly code: AccountFailure,
    message: string,
  ) {
    super(message);
  }
}

export function isServiceNick(network: Network, nick: string): boolean {
  const folded = network.fold(nick);
  return SERVICE_NICKS.some((name) => network.fold(name) === folded);
}

export function checkAccountName(network: Network, name: string): void {
  if (!isValidNick(name, network.settings.limits.nickLength) || isServiceNick(network, name)) {
    throw new AccountError('BAD_ACCOUNT_NAME', `${name} cannot be an account name: use letters, digits and -_[]{}|\\^\` and start with a letter`);
  }
}

export function checkPassword(network: Network, password: string): void {
  const min = network.settings.accounts.minPasswordLength;
  if (password.length < min) throw new AccountError('WEAK_PASSWORD', `Passwords must be at least ${min} characters long`);
  if (/[\s\0]/.test(password) && password.trim() !== password) throw new AccountError('UNACCEPTABLE_PASSWORD', 'Passwords may not start or end with white space');
}

/** Creates an account; the write is on disk before this resolves (nothing acknowledged is lost). */
export async function createAccount(network: Network, store: Store, auth: Authenticator, name: string, password: string): Promise<AccountRecord> {
  checkAccountName(network, name);
  checkPassword(network, password);
  const credentials = await auth.newCredentials(password);
  try {
    return await store.createAccount({ name, nameFolded: network.fold(name), ...credentials, createdAt: network.clock.now() });
  } catch (error) {
    if (error instanceof StoreConflictError) throw new AccountError('ACCOUNT_EXISTS', `The account ${name} already exists`);
    throw error;
  }
}

export async function changePassword(network: Network, store: Store, auth: Authenticator, account: string, password: string): Promise<void> {
  checkPassword(network, password);
  const credentials = await auth.newCredentials(password);
  await store.setPassword(network.fold(account), credentials.passwordHash, credentials.scram);
}

/**
 * The session is now logged in: everyone who asked (account-notify) is told; an operator account gets +o. A
 * countdown to rename this session stops only when this account owns the nick: logging in to some other
 * account does not earn a nick that belongs to someone else.
 */
export function logIn(network: Network, session: Session, account: AccountRecord): void {
  network.publish({ type: 'accountChanged', id: session.id, account: account.name, accountId: account.id, time: network.clock.now() });
  if (network.nickDeadlines.get(session)?.nickFolded === account.nameFolded) network.nickDeadlines.delete(session);
  if (account.isOper && !session.isOper && session.registered) becomeOperator(network, session, `account:${account.name}`);
}

/** The session is logged out; operator status it had from the account (not from OPER) ends with it. */
export function logOut(network: Network, session: Session): void {
  if (session.account === undefined) return;
  const operByAccount = session.isOper && session.operName === `account:${session.account}`;
  network.publish({ type: 'accountChanged', id: session.id, account: undefined, accountId: undefined, time: network.clock.now() });
  if (operByAccount) changeUserModes(network, session, '-o');
}

/** Every session (on any node) logged in to an account, e.g. to log them all out when it is dropped. */
export function sessionsOf(network: Network, accountId: number): Session[] {
  return [...network.sessions.values()].filter((session) => session.accountId === accountId);
}

/**
 * After a nick change or registration: if the nick belongs to an account this session is not logged in to,
 * it has `nickGraceSeconds` to log in before being renamed. Returns the owning account's name when a
 * countdown started, so the caller can tell the user.
 */
export async function guardNick(network: Network, store: Store, session: Session): Promise<string | undefined> {
  network.nickDeadlines.delete(session);
  if (!session.registered) return undefined;
  const folded = session.nickFolded;
  const owner = await store.findAccount(folded);
  if (owner === undefined || owner.id === session.accountId) return undefined;
  // The nick may have changed while the store answered.
  if (session.nickFolded !== folded || network.sessions.get(session.id) !== session) return undefined;
  const grace = network.settings.accounts.nickGraceSeconds;
  network.nickDeadlines.set(session, { nickFolded: folded, at: network.clock.now() + grace * 1000 });
  if (grace === 0) renameIntruders(network);
  return owner.name;
}

/**
 * Renames every session whose grace period is over and which still holds the protected nick. The guest nick is
 * claimed network-wide first (issue 9); a refused or failed claim tries again with another at the next turn.
 */
export function renameIntruders(network: Network): void {
  const now = network.clock.now();
  for (const [session, deadline] of [...network.nickDeadlines]) {
    if (deadline.at > now) continue;
    network.nickDeadlines.delete(session);
    if (session.nickFolded !== deadline.nickFolded || network.sessions.get(session.id) !== session) continue;
    const nick = guestNick(network);
    let answeredAtOnce = true;
    const again = (): void => {
      if (network.sessions.get(session.id) === session && session.nickFolded === deadline.nickFolded) network.nickDeadlines.set(session, deadline);
    };
    const rename = (): void => {
      const time = answeredAtOnce ? now : network.clock.now();
      network.publish({ type: 'nickChanged', id: session.id, nick, time, msgid: network.msgids.next() });
    };
    const renaming = withNickClaim(network, session, network.fold(nick), rename, again);
    answeredAtOnce = false;
    if (renaming !== undefined) void renaming.catch(again);
  }
}

export function guestNick(network: Network): string {
  for (;;) {
    const nick = `Guest${String(10000 + Math.floor(Math.random() * 90000))}`;
    if (!network.nicks.has(network.fold(nick))) return nick;
  }
}

/** GHOST: ends the session holding `nick` when it is the caller's account's nick, or another session of theirs. */
export function mayGhost(network: Network, caller: Session, target: Session): boolean {
  if (caller.accountId === undefined || target === caller) return false;
  return target.accountId === caller.accountId || network.fold(caller.account ?? '') === target.nickFolded;
}
