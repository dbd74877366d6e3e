/** What a user does to themselves: take a nick, register, go away, change modes, leave. */
import { ChatError } from './errors.js';
import type { Network } from './network.js';
import { USER_MODE_LETTERS, UserMode } from './session.js';
import type { Session } from './session.js';

// Modern IRC "Clients": no space, comma, '*', '?', '!', '@'; no leading '#', ':', '$', '&' or digit.
// We allow the traditional RFC 2812 set, which every client accepts.
const NICK_PATTERN = /^[A-Za-z[\]\\`_^{|}][A-Za-z0-9[\]\\`_^{|}-]*$/;

/** NickServ and ChanServ, folded by both casemappings (which agree on these letters). */
const SERVICE_NICK_FOLDS = new Set(['nickserv', 'chanserv']);

export function isValidNick(nick: string, maxLength: number): boolean {
  return nick.length > 0 && nick.length <= maxLength && NICK_PATTERN.test(nick);
}

/**
 * NICK: before registration it only reserves the name; afterwards everyone sharing a room is told. The nick is first
 * claimed network-wide (issue 9: two users on two nodes never get one nick): at once in one process, later (a
 * promise) in cluster mode. It resolves without a change when the session left, or was renamed, meanwhile.
 */
export function changeNick(network: Network, session: Session, nick: string): void | Promise<void> {
  if (!isValidNick(nick, network.settings.limits.nickLength)) throw new ChatError('erroneousNickname', [nick]);
  const folded = network.fold(nick);
  if (SERVICE_NICK_FOLDS.has(folded)) throw new ChatError('erroneousNickname', [nick], 'That nick is reserved for services');
  const holder = network.nicks.get(folded);
  if (holder !== undefined && holder !== session) throw new ChatError('nicknameInUse', [nick]);
  if (nick === session.nick) return;
  const take = (): void => {
    if (!session.registered) {
      network.reserveNick(session, nick);
      return;
    }
    network.publish({ type: 'nickChanged', id: session.id, nick, time: network.clock.now(), msgid: network.msgids.next() });
  };
  // Only the case changes: the session holds this nick already.
  if (folded === session.nickFolded) {
    take();
    return;
  }
  return withNickClaim(network, session, folded, take, () => {
    throw new ChatError('nicknameInUse', [nick]);
  });
}

/**
 * Claims `folded` for the session (letting go of its current nick in the same step), then runs `take` or `refused`.
 * Synchronous when the claims answer at once. A claim answered after the session left or changed nick is let go again.
 */
export function withNickClaim(network: Network, session: Session, folded: string, take: () => void, refused: () => void): void | Promise<void> {
  const previous = session.nickFolded;
  const answer = network.claims.claimNick(folded, session.id, previous === '' ? undefined : previous);
  if (typeof answer === 'boolean') {
    if (answer) take();
    else refused();
    return;
  }
  return answer.then((claimed) => {
    if (!claimed) {
      refused();
      return;
    }
    if (network.sessions.get(session.id) === session && session.nickFolded === previous) {
      take();
      return;
    }
    if (session.nickFolded !== folded) void network.claims.releaseNick(folded, session.id);
  });
}

/** Introduces a session to the network once NICK, USER (and CAP END, PASS) are done. */
export function registerSession(network: Network, session: Session): void {
  network.publish({
    type: 'userRegistered',
    user: {
      id: session.id,
      node: network.bus.nodeId,
      nick: session.nick,
      user: session.user,
      host: session.host,
      ip: session.ip,
      realname: session.realname,
      modes: session.modes,
      signonAt: session.signonAt,
      account: session.account,
      accountId: session.accountId,
    },
  });
}

export function quit(network: Network, session: Session, reason: string): void {
  // The nick is free again network-wide, let go by whoever ends the session (its node, a KILL's, a lost node's
  // survivor), before anyone sees the QUIT and tries to take it.
  if (session.nickFolded !== '') void network.claims.releaseNick(session.nickFolded, session.id);
  if (!session.registered) {
    network.removeUnregistered(session);
    return;
  }
  network.publish({ type: 'userQuit', id: session.id, reason, time: network.clock.now(), msgid: network.msgids.next() });
}

export function setAway(network: Network, session: Session, message: string | undefined): void {
  const trimmed = message === undefined || message === '' ? undefined : message.slice(0, network.settings.limits.awayLength);
  network.publish({ type: 'awayChanged', id: session.id, message: trimmed, time: network.clock.now() });
}

export function setRealname(network: Network, session: Session, realname: string): void {
  network.publish({
    type: 'realnameChanged',
    id: session.id,
    realname: realname.slice(0, network.settings.limits.realnameLength),
    time: network.clock.now(),
  });
}

export interface UserModeResult {
  /** The changes really made, e.g. "+iw" (empty when nothing changed). */
  readonly applied: string;
  readonly unknownLetters: boolean;
}

/**
 * User MODE on oneself. +o cannot be self-granted (only OPER does), but may be dropped.
 */
export function changeUserModes(network: Network, session: Session, modeString: string): UserModeResult {
  let adding = true;
  let modes = session.modes;
  let unknownLetters = false;
  let applied = '';
  let sign = '';
  for (const letter of modeString) {
    if (letter === '+' || letter === '-') {
      adding = letter === '+';
      continue;
    }
    const bit = USER_MODE_LETTERS.find(([l]) => l === letter)?.[1];
    if (bit === undefined) {
      unknownLetters = true;
      continue;
    }
    if (bit === UserMode.oper && adding) continue;
    const has = (modes & bit) !== 0;
    if (has === adding) continue;
    modes = adding ? modes | bit : modes & ~bit;
    const wanted = adding ? '+' : '-';
    if (wanted !== sign) {
      applied += wanted;
      sign = wanted;
    }
    applied += letter;
  }
  if (applied !== '') {
    if ((session.modes & UserMode.oper) !== 0 && (modes & UserMode.oper) === 0) session.operName = undefined;
    network.publish({ type: 'userModeChanged', id: session.id, modes, changes: applied, time: network.clock.now() });
  }
  return { applied, unknownLetters };
}

/** Grants +o (and +w, so operators see WALLOPS) after OPER succeeded. */
export function becomeOperator(network: Network, session: Session, operName: string): void {
  session.operName = operName;
  let added = '';
  for (const [letter, bit] of USER_MODE_LETTERS) {
    if ((bit === UserMode.oper || bit === UserMode.wallops) && (session.modes & bit) === 0) added += letter;
  }
  network.publish({
    type: 'userModeChanged',
    id: session.id,
    modes: session.modes | UserMode.oper | UserMode.wallops,
    changes: added === '' ? '' : `+${added}`,
    time: network.clock.now(),
  });
}
