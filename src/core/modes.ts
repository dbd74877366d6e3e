/** Channel MODE: parsing a mode string against CHANMODES and checking each change against the actor's rank. */
import { Rank, rankByLetter } from './channel.js';
import type { Channel, ListMode, Membership } from './channel.js';
import { ChatError } from './errors.js';
import type { ModeChange, RoleChange } from './events.js';
import type { Network } from './network.js';
import { normalizeMask } from '../protocol/mask.js';
import { actingRank, maySetChannelMode, maySetRank } from './permissions.js';
import { currentChannel, flagsAfter, needsStore, withRoomWrite } from './registered-rooms.js';
import type { Session } from './session.js';
import type { RoomPatch, RoomStore } from './store.js';

/** CHANMODES=A,B,C,D as advertised in ISUPPORT: lists, always-param, param-when-set, flags. */
export const CHANMODES = 'beI,k,l,imnst';
export const STATUS_LETTERS = 'qaohv';

export interface ModeRequest {
  readonly changes: readonly ModeChange[];
  /** List modes asked for without a parameter (MODE #room +b): the caller replies with the list. */
  readonly listQueries: readonly ListMode[];
  /** Errors for individual changes; the rest still apply, as servers do. */
  readonly errors: readonly ChatError[];
}

const KEY_PATTERN = /^[^\s,:]{1,32}$/;

/**
 * Reads "+ov-k nick1 nick2 key" into changes the actor may make. Each change is checked on its own;
 * at most `modesPerCommand` changes of list, key, limit and status modes are taken (MODES=; Modern IRC counts
 * every type A, B and C mode and every PREFIX mode), the rest are dropped.
 */
export function parseChannelModes(network: Network, session: Session, channel: Channel, modeString: string, params: readonly string[]): ModeRequest {
  const changes: ModeChange[] = [];
  const listQueries: ListMode[] = [];
  const errors: ChatError[] = [];
  const actor = actingRank(session, channel);
  const { limits } = network.settings;
  let adding = true;
  let paramIndex = 0;
  let paramChanges = 0;
  let privilegeErrorGiven = false;
  const denied = (): void => {
    if (!privilegeErrorGiven) errors.push(new ChatError('chanOpPrivsNeeded', [channel.name]));
    privilegeErrorGiven = true;
  };
  /** "+oo bob bob" or "+bb x x" changes one thing once, and is broadcast once. */
  const alreadyTaken = (letter: string, param: string): boolean =>
    changes.some((c) => c.letter === letter && c.param !== undefined && network.fold(c.param) === network.fold(param));

  for (const letter of modeString) {
    if (letter === '+' || letter === '-') {
      adding = letter === '+';
      continue;
    }
    if (letter === 'b' || letter === 'e' || letter === 'I') {
      const mask = params[paramIndex];
      if (mask === undefined) {
        if (!listQueries.includes(letter)) listQueries.push(letter);
        continue;
      }
      paramIndex++;
      if (++paramChanges > limits.modesPerCommand) continue;
      if (!maySetChannelMode(actor, letter)) {
        denied();
        continue;
      }
      const normalized = normalizeMask(mask);
      const list = channel.lists[letter];
      const existing = list.find((entry) => network.fold(entry.mask) === network.fold(normalized));
      if (adding === (existing !== undefined) || alreadyTaken(letter, normalized)) continue;
      const pendingAdds = changes.filter((c) => c.adding && c.letter === letter).length;
      if (adding && list.length + pendingAdds >= limits.listEntries) {
        errors.push(new ChatError('banListFull', [channel.name, letter]));
        continue;
      }
      // A removal names the entry as it was set, whatever case the remover typed.
      changes.push({ adding, letter, param: existing?.mask ?? normalized });
      continue;
    }
    const status = rankByLetter(letter);
    if (status !== undefined) {
      const nick = params[paramIndex++];
      if (nick === undefined) continue;
      if (++paramChanges > limits.modesPerCommand) continue;
      const target = network.findNick(nick);
      const membership = target === undefined ? undefined : channel.members.get(target);
      if (target === undefined || membership === undefined) {
        errors.push(target === undefined ? new ChatError('noSuchNick', [nick]) : new ChatError('userNotInChannel', [nick, channel.name]));
        continue;
      }
      if (!maySetRank(actor, status.rank, membership.highestRank, target === session, adding)) {
        denied();
        continue;
      }
      if (membership.has(status.rank) === adding || alreadyTaken(letter, target.nick)) continue;
      changes.push({ adding, letter, param: target.nick });
      continue;
    }
    if (letter === 'k') {
      const key = params[paramIndex];
      if (adding) {
        if (key === undefined) {
          errors.push(new ChatError('invalidModeParam', [channel.name, 'k', '*'], 'You must specify a parameter for the key mode'));
          continue;
        }
        paramIndex++;
        if (!KEY_PATTERN.test(key)) {
          errors.push(new ChatError('invalidKey', [channel.name]));
          continue;
        }
      } else if (key !== undefined) {
        paramIndex++; // -k may name the key, which is ignored
      }
      if (++paramChanges > limits.modesPerCommand) continue;
      if (!maySetChannelMode(actor, letter)) {
        denied();
        continue;
      }
      if (adding ? channel.modes.key === key : channel.modes.key === undefined) continue;
      if (changes.some((c) => c.letter === letter)) continue;
      changes.push(adding && key !== undefined ? { adding, letter, param: key } : { adding, letter, param: '*' });
      continue;
    }
    if (letter === 'l') {
      let limit: number | undefined;
      if (adding) {
        const raw = params[paramIndex];
        if (raw === undefined) {
          errors.push(new ChatError('invalidModeParam', [channel.name, 'l', '*'], 'You must specify a parameter for the limit mode'));
          continue;
        }
        paramIndex++;
        limit = /^\d{1,9}$/.test(raw) ? Number(raw) : NaN;
        if (!(limit > 0)) {
          errors.push(new ChatError('invalidModeParam', [channel.name, 'l', raw], 'Invalid limit mode parameter'));
          continue;
        }
      }
      if (++paramChanges > limits.modesPerCommand) continue;
      if (!maySetChannelMode(actor, letter)) {
        denied();
        continue;
      }
      if (channel.modes.limit === limit) continue;
      if (changes.some((c) => c.letter === letter)) continue;
      changes.push(limit !== undefined ? { adding, letter, param: String(limit) } : { adding, letter });
      continue;
    }
    if ('imnst'.includes(letter)) {
      if (!maySetChannelMode(actor, letter)) {
        denied();
        continue;
      }
      if (flagState(channel, letter) === adding) continue;
      if (!changes.some((c) => c.letter === letter)) changes.push({ adding, letter });
      continue;
    }
    errors.push(new ChatError('unknownMode', [letter]));
  }
  return { changes, listQueries, errors };
}

function flagState(channel: Channel, letter: string): boolean {
  const { modes } = channel;
  switch (letter) {
    case 'i':
      return modes.inviteOnly;
    case 'm':
      return modes.moderated;
    case 'n':
      return modes.noExternal;
    case 's':
      return modes.secret;
    default:
      return modes.topicLocked;
  }
}

export function applyChannelModes(network: Network, session: Session, channel: Channel, changes: readonly ModeChange[]): void {
  if (changes.length === 0) return;
  network.publish({ type: 'channelModeChanged', by: session.prefix, channel: channel.nameFolded, changes, time: network.clock.now(), msgid: network.msgids.next() });
}

/**
 * MODE on a room: parses, checks and applies the changes. In a registered room the changes are stored first and
 * the MODE goes out only once the store has them (so it resolves later); elsewhere this is synchronous.
 */
export function changeChannelModes(
  network: Network,
  store: RoomStore,
  session: Session,
  channel: Channel,
  modeString: string,
  params: readonly string[],
): ModeRequest | Promise<ModeRequest> {
  if (!needsStore(network, channel)) {
    const request = parseChannelModes(network, session, channel, modeString, params);
    applyChannelModes(network, session, channel, request.changes);
    return request;
  }
  return withRoomWrite(network, channel.nameFolded, async () => {
    // Parsed only now: the room may have changed while earlier writes were waited for.
    const current = currentChannel(network, channel);
    if (current === undefined) throw new ChatError('noSuchChannel', [channel.name]);
    const request = parseChannelModes(network, session, current, modeString, params);
    if (request.changes.length === 0) return request;
    const time = network.clock.now();
    const roles = current.registration === undefined ? [] : await storeModeChanges(network, store, session, current, request.changes, time);
    network.publish({ type: 'channelModeChanged', by: session.prefix, channel: current.nameFolded, changes: request.changes, roles, time, msgid: network.msgids.next() });
    return request;
  });
}

/**
 * Writes a registered room's mode changes to the store: flags, key, limit, list entries, and the roles of logged-in
 * members (docs/chanserv.md, "MODE and roles"): +X raises the account's role to X, -X of the role the account holds
 * lowers it to the highest prefix the member keeps. Removing one's own prefixes is not stored (a member who steps
 * down for a moment gets the role back at the next JOIN; AMODE gives a role up for good); the founder stays owner.
 * Returns the role changes, which the event carries so that every node's cache follows.
 */
async function storeModeChanges(network: Network, store: RoomStore, session: Session, channel: Channel, changes: readonly ModeChange[], time: number): Promise<RoleChange[]> {
  const registration = channel.registration;
  if (registration === undefined) return [];
  const patch: { -readonly [K in keyof RoomPatch]: RoomPatch[K] } = {};
  if (changes.some((c) => 'imnst'.includes(c.letter))) patch.modes = flagsAfter(channel.modes, changes);
  const key = changes.findLast((c) => c.letter === 'k');
  if (key !== undefined) patch.key = key.adding && key.param !== undefined ? key.param : null;
  const limit = changes.findLast((c) => c.letter === 'l');
  if (limit !== undefined) patch.userLimit = limit.adding && limit.param !== undefined ? Number(limit.param) : null;
  await store.updateRoom(channel.nameFolded, patch);
  for (const change of changes) {
    if (change.letter !== 'b' && change.letter !== 'e' && change.letter !== 'I') continue;
    const mask = change.param ?? '';
    if (change.adding) await store.addListEntry(channel.nameFolded, { mode: change.letter, mask, maskFolded: network.fold(mask), setBy: session.prefix, setAt: time });
    else await store.removeListEntry(channel.nameFolded, change.letter, network.fold(mask));
  }
  // The prefixes each member will have, and the roles of their accounts, change by change.
  const prefixes = new Map<Membership, number>();
  const roles = new Map<number, RoleChange>();
  for (const change of changes) {
    const status = rankByLetter(change.letter);
    if (status === undefined || change.param === undefined) continue;
    const target = network.findNick(change.param);
    const membership = target === undefined ? undefined : channel.members.get(target);
    if (target === undefined || membership === undefined) continue;
    const before = prefixes.get(membership) ?? membership.prefixes;
    const after = change.adding ? before | (1 << status.rank) : before & ~(1 << status.rank);
    prefixes.set(membership, after);
    const accountId = target.accountId;
    if (accountId === undefined || target.account === undefined || accountId === registration.founderId) continue;
    if (target === session && !change.adding) continue;
    const role = roles.get(accountId)?.rank ?? registration.roleOf(accountId);
    let next = role;
    if (change.adding) next = Math.max(role, status.rank);
    else if (role === status.rank) next = highestBelow(after, status.rank);
    if (next !== role) roles.set(accountId, { accountId, accountName: target.account, rank: next });
  }
  const stored: RoleChange[] = [];
  for (const role of roles.values()) {
    if (role.rank === registration.roleOf(role.accountId)) continue;
    await store.setRole(channel.nameFolded, role.accountId, role.rank);
    stored.push(role);
  }
  return stored;
}

/** The highest rank in a prefix bitmask below `limit`, or none. */
function highestBelow(prefixes: number, limit: number): number {
  for (let rank = limit - 1; rank > Rank.none; rank--) if ((prefixes & (1 << rank)) !== 0) return rank;
  return Rank.none;
}

