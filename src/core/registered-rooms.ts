/**
 * Registered rooms (issue 4, docs/chanserv.md): a room registered to an account keeps its topic, modes, key, limit,
 * ban/exception/invite lists and the roles of accounts across restarts. The store holds them; the channel in memory
 * (Channel.registration) is the cache that JOIN and PRIVMSG read, so they never wait on the store.
 *
 * Every change is written to the store and awaited before its event is published, so whatever the user sees
 * acknowledged (a NOTICE from ChanServ, a MODE or TOPIC line) is already durable. The writes of one room go through
 * one queue (withRoomWrite), so that two concurrent changes cannot store an older state over a newer one.
 */
import { Channel, ChannelModes, isRank, Rank, RANKS, RoomRegistration } from './channel.js';
import type { ListMode } from './channel.js';
import type { Network } from './network.js';
import { actingRank, maySetRank } from './permissions.js';
import type { Session } from './session.js';
import type { AccountRecord, AccountStore, RoomStore } from './store.js';
import { StoreConflictError } from './store.js';

/** A refusal of a ChanServ request; its message is the text ChanServ answers with. */
export class RoomServiceError extends Error {
  override name = 'RoomServiceError';
}

/** Role names as ChanServ ACCESS takes them, and as INFO and ACCESS LIST show them. */
export const ROLE_NAMES: Readonly<Record<Rank, string>> = {
  [Rank.none]: 'none',
  [Rank.voice]: 'voice',
  [Rank.halfop]: 'halfop',
  [Rank.op]: 'op',
  [Rank.admin]: 'admin',
  [Rank.owner]: 'owner',
};

/** "owner", "admin", "op"/"operator", "halfop", "voice", or a mode letter q a o h v. */
export function parseRole(word: string): Rank | undefined {
  const lower = word.toLowerCase();
  const byLetter = RANKS.find((def) => def.letter === word);
  if (byLetter !== undefined) return byLetter.rank;
  if (lower === 'operator') return Rank.op;
  if (lower === 'half-operator') return Rank.halfop;
  for (const def of RANKS) if (ROLE_NAMES[def.rank] === lower) return def.rank;
  return undefined;
}

export function letterOf(rank: Rank): string {
  return RANKS.find((def) => def.rank === rank)?.letter ?? '';
}

// ---- the per-room write queue ---------------------------------------------------------------------------------

/**
 * Runs `write` after every earlier write of the same room has finished (whether it succeeded or not). `write`
 * awaits its store calls and publishes its event before it resolves, so the next one sees the state it left.
 */
export function withRoomWrite<T>(network: Network, nameFolded: string, write: () => Promise<T>): Promise<T> {
  const previous = network.roomWrites.get(nameFolded) ?? Promise.resolve();
  const result = previous.then(write);
  const tail = result.then(
    () => undefined,
    () => undefined,
  );
  network.roomWrites.set(nameFolded, tail);
  void tail.then(() => {
    if (network.roomWrites.get(nameFolded) === tail) network.roomWrites.delete(nameFolded);
  });
  return result;
}

/**
 * Must a change to this room go through the store? When it is registered, and also while a write is queued for
 * it (a REGISTER in flight), so that a change made meanwhile is not left out of what REGISTER stores.
 */
export function needsStore(network: Network, channel: Channel): boolean {
  return channel.registration !== undefined || network.roomWrites.has(channel.nameFolded);
}

/** The channel still known under this name (it may have gone while a write waited), or undefined. */
export function currentChannel(network: Network, channel: Channel): Channel | undefined {
  const now = network.channels.get(channel.nameFolded);
  return now === channel ? now : undefined;
}

// ---- modes as the store keeps them -------------------------------------------------------------------------------

const FLAGS: ReadonlyArray<readonly [string, 'inviteOnly' | 'moderated' | 'noExternal' | 'secret' | 'topicLocked']> = [
  ['i', 'inviteOnly'],
  ['m', 'moderated'],
  ['n', 'noExternal'],
  ['s', 'secret'],
  ['t', 'topicLocked'],
];

/** The flag letters set ("nt"), as RoomRecord.modes holds them. */
export function flagLetters(modes: Pick<ChannelModes, 'inviteOnly' | 'moderated' | 'noExternal' | 'secret' | 'topicLocked'>): string {
  return FLAGS.filter(([, field]) => modes[field]).map(([letter]) => letter).join('');
}

function setFlags(modes: ChannelModes, letters: string): void {
  for (const [letter, field] of FLAGS) modes[field] = letters.includes(letter);
}

/** The flags after some changes, without touching the channel. */
export function flagsAfter(modes: ChannelModes, changes: ReadonlyArray<{ readonly adding: boolean; readonly letter: string }>): string {
  const next = { inviteOnly: modes.inviteOnly, moderated: modes.moderated, noExternal: modes.noExternal, secret: modes.secret, topicLocked: modes.topicLocked };
  for (const change of changes) {
    const field = FLAGS.find(([letter]) => letter === change.letter)?.[1];
    if (field !== undefined) next[field] = change.adding;
  }
  return flagLetters(next);
}

// ---- loading at start ---------------------------------------------------------------------------------------------

/**
 * Puts every registered room of the store into the network before anyone connects: topic, modes, key, limit, lists
 * and roles. Returns how many. Rooms whose founder no longer exists are skipped (the store drops them with the
 * account; this only guards against a store edited by hand).
 */
export async function loadRegisteredRooms(network: Network, store: RoomStore & AccountStore): Promise<number> {
  let count = 0;
  for (const room of await store.listRooms()) {
    const founder = await store.findAccountById(room.founderId);
    if (founder === undefined) continue;
    const channel = new Channel(room.name, room.nameFolded, Math.floor(room.registeredAt / 1000));
    channel.topic = room.topic;
    channel.topicSetBy = room.topicSetBy;
    channel.topicSetAt = Math.floor(room.topicSetAt / 1000);
    setFlags(channel.modes, room.modes);
    channel.modes.key = room.key ?? undefined;
    channel.modes.limit = room.userLimit ?? undefined;
    for (const entry of await store.listEntries(room.nameFolded)) {
      channel.lists[entry.mode].push({ mask: entry.mask, setBy: entry.setBy, setAt: Math.floor(entry.setAt / 1000) });
    }
    const registration = new RoomRegistration(founder.id, founder.name, room.registeredAt);
    registration.history = room.history;
    for (const role of await store.listRoles(room.nameFolded)) {
      if (role.accountId !== founder.id && isRank(role.rank)) registration.roles.set(role.accountId, { rank: role.rank, accountName: role.accountName });
    }
    channel.registration = registration;
    network.channels.set(channel.nameFolded, channel);
    count++;
  }
  return count;
}

// ---- ChanServ operations ------------------------------------------------------------------------------------------

function registeredChannel(network: Network, name: string): { channel: Channel; registration: RoomRegistration } {
  const channel = network.findChannel(name);
  const registration = channel?.registration;
  if (channel === undefined || registration === undefined) throw new RoomServiceError(`${name} is not registered.`);
  return { channel, registration };
}

/** The same registered room after waiting in the queue, or a refusal if it was dropped meanwhile. */
function stillRegistered(network: Network, channel: Channel): RoomRegistration {
  const registration = currentChannel(network, channel)?.registration;
  if (registration === undefined) throw new RoomServiceError(`${channel.name} is not registered.`);
  return registration;
}

async function requireAccount(network: Network, store: AccountStore, name: string): Promise<AccountRecord> {
  const account = await store.findAccount(network.fold(name));
  if (account === undefined) throw new RoomServiceError(`${name} is not a registered account.`);
  return account;
}

/**
 * REGISTER: the caller's account becomes the founder (and owner) of a room they are an operator of (server operators
 * of any room). The room's current topic, modes and lists are stored with it.
 */
export async function registerRoom(network: Network, store: RoomStore, session: Session, name: string): Promise<Channel> {
  const accountId = session.accountId;
  const accountName = session.account;
  if (accountId === undefined || accountName === undefined) throw new RoomServiceError('You must be logged in to an account to register a room.');
  const found = network.findChannel(name);
  if (found === undefined) throw new RoomServiceError(`${name} does not exist: join it first.`);
  const check = (channel: Channel): void => {
    if (channel.registration !== undefined) throw new RoomServiceError(`${channel.name} is already registered to ${channel.registration.founderName}.`);
    if (actingRank(session, channel) < Rank.op) throw new RoomServiceError(`You must be an operator (@) of ${channel.name} to register it.`);
  };
  check(found);
  return withRoomWrite(network, found.nameFolded, async () => {
    const channel = currentChannel(network, found);
    if (channel === undefined) throw new RoomServiceError(`${name} does not exist: join it first.`);
    check(channel);
    const time = network.clock.now();
    try {
      await store.registerRoom({
        name: channel.name,
        nameFolded: channel.nameFolded,
        founderId: accountId,
        registeredAt: time,
        topic: channel.topic,
        topicSetBy: channel.topicSetBy,
        topicSetAt: channel.topicSetAt * 1000,
        modes: flagLetters(channel.modes),
        key: channel.modes.key ?? null,
        userLimit: channel.modes.limit ?? null,
        history: null,
      });
    } catch (error) {
      if (error instanceof StoreConflictError) throw new RoomServiceError(`${channel.name} is already registered.`);
      throw error;
    }
    for (const mode of ['b', 'e', 'I'] as const satisfies readonly ListMode[]) {
      for (const entry of channel.lists[mode]) {
        await store.addListEntry(channel.nameFolded, { mode, mask: entry.mask, maskFolded: network.fold(entry.mask), setBy: entry.setBy, setAt: entry.setAt * 1000 });
      }
    }
    network.publish({ type: 'roomRegistered', channel: channel.nameFolded, founderId: accountId, founderName: accountName, registeredAt: time, time });
    return channel;
  });
}

/** DROP: the founder or a server operator unregisters the room; it stays as an ordinary room until it empties. */
export async function dropRoom(network: Network, store: RoomStore, session: Session, name: string): Promise<Channel> {
  const { channel: found, registration: first } = registeredChannel(network, name);
  const check = (registration: RoomRegistration): void => {
    if (session.accountId !== registration.founderId && !session.isOper) {
      throw new RoomServiceError(`Only the founder of ${found.name} (${registration.founderName}) or a server operator can drop it.`);
    }
  };
  check(first);
  return withRoomWrite(network, found.nameFolded, async () => {
    check(stillRegistered(network, found));
    await store.dropRoom(found.nameFolded);
    network.publish({ type: 'roomDropped', channel: found.nameFolded, time: network.clock.now() });
    return found;
  });
}

/** TRANSFER: the founder hands the room to another account, which becomes its owner; the old founder keeps admin. */
export async function transferRoom(network: Network, store: RoomStore & AccountStore, session: Session, name: string, accountName: string): Promise<AccountRecord> {
  const { channel: found, registration: first } = registeredChannel(network, name);
  const check = (registration: RoomRegistration): void => {
    if (session.accountId !== registration.founderId) throw new RoomServiceError(`Only the founder of ${found.name} (${registration.founderName}) can transfer it.`);
  };
  check(first);
  const target = await requireAccount(network, store, accountName);
  return withRoomWrite(network, found.nameFolded, async () => {
    const registration = stillRegistered(network, found);
    check(registration);
    if (target.id === registration.founderId) throw new RoomServiceError(`${target.name} is already the founder of ${found.name}.`);
    const previousId = registration.founderId;
    const previousName = registration.founderName;
    await store.transferRoom(found.nameFolded, target.id);
    await store.setRole(found.nameFolded, previousId, Rank.admin);
    // The founder's owner role is implicit; a role row of the new founder would only be stale.
    await store.setRole(found.nameFolded, target.id, Rank.none);
    network.publish({
      type: 'roomFounderChanged',
      channel: found.nameFolded,
      founderId: target.id,
      founderName: target.name,
      previousFounderId: previousId,
      previousFounderName: previousName,
      time: network.clock.now(),
    });
    return target;
  });
}

/** The rank a session acts with for ChanServ in a room: its rank in the room, or its account's role, the higher. */
function serviceRank(session: Session, channel: Channel, registration: RoomRegistration): Rank {
  const role = registration.roleOf(session.accountId);
  const acting = actingRank(session, channel);
  return role > acting ? role : acting;
}

export interface RoleResult {
  readonly accountName: string;
  /** The role before and after. */
  readonly previous: Rank;
  readonly rank: Rank;
}

/**
 * AMODE / ACCESS ADD and DEL: gives an account a role in the room (replacing the one it had), or takes the role
 * away (`rank` undefined for "whatever role it has"). The rules are those of MODE (src/core/permissions.ts): the owner
 * grants admin, admins and operators grant operator, half-operator and voice, half-operators voice.
 */
export async function setAccountRole(
  network: Network,
  store: RoomStore & AccountStore,
  session: Session,
  name: string,
  accountName: string,
  rank: Rank | undefined,
  adding: boolean,
): Promise<RoleResult> {
  const { channel: found } = registeredChannel(network, name);
  if (session.accountId === undefined && !session.isOper) throw new RoomServiceError('You must be logged in to an account to change roles.');
  const target = await requireAccount(network, store, accountName);
  return withRoomWrite(network, found.nameFolded, async () => {
    const registration = stillRegistered(network, found);
    if (target.id === registration.founderId) {
      throw new RoomServiceError(`${target.name} founded ${found.name} and is always its owner (see TRANSFER).`);
    }
    const actor = serviceRank(session, found, registration);
    const current = registration.roleOf(target.id);
    const onSelf = target.id === session.accountId;
    let next: Rank;
    if (adding) {
      if (rank === undefined || rank === Rank.none) throw new RoomServiceError('Name a role: owner, admin, op, halfop or voice.');
      if (current === rank) throw new RoomServiceError(`${target.name} already has the ${ROLE_NAMES[rank]} role in ${found.name}.`);
      if (current !== Rank.none && !maySetRank(actor, current, current, onSelf, false)) {
        throw new RoomServiceError(`You may not take the ${ROLE_NAMES[current]} role of ${target.name} in ${found.name}.`);
      }
      if (!maySetRank(actor, rank, current, onSelf, true)) throw new RoomServiceError(`You may not give the ${ROLE_NAMES[rank]} role in ${found.name}.`);
      next = rank;
    } else {
      if (current === Rank.none || (rank !== undefined && rank !== current)) {
        throw new RoomServiceError(`${target.name} has no ${rank === undefined ? '' : `${ROLE_NAMES[rank]} `}role in ${found.name}.`);
      }
      if (!maySetRank(actor, current, current, onSelf, false)) {
        throw new RoomServiceError(`You may not take the ${ROLE_NAMES[current]} role of ${target.name} in ${found.name}.`);
      }
      next = Rank.none;
    }
    await store.setRole(found.nameFolded, target.id, next);
    network.publish({ type: 'roomRoleChanged', channel: found.nameFolded, role: { accountId: target.id, accountName: target.name, rank: next }, time: network.clock.now() });
    return { accountName: target.name, previous: current, rank: next };
  });
}

export interface ListedRole {
  readonly accountName: string;
  readonly rank: Rank;
  readonly founder: boolean;
}

/** The founder, then every role, highest first and by name. */
export function listRoles(network: Network, registration: RoomRegistration): ListedRole[] {
  const roles = [...registration.roles.values()]
    .map((role) => ({ accountName: role.accountName, rank: role.rank, founder: false }))
    .sort((a, b) => b.rank - a.rank || network.fold(a.accountName).localeCompare(network.fold(b.accountName)));
  return [{ accountName: registration.founderName, rank: Rank.owner, founder: true }, ...roles];
}

/** May this session see who holds which role: a member, an account with a role there, or a server operator. */
export function maySeeRoles(session: Session, channel: Channel, registration: RoomRegistration): boolean {
  return session.isOper || channel.members.has(session) || registration.roleOf(session.accountId) !== Rank.none;
}

/**
 * After an account was deleted (the store already dropped the rooms it founded and its roles, by cascade): the
 * network forgets them too. For NickServ DROP and anything else that deletes an account while the server runs.
 */
export function forgetAccountRooms(network: Network, accountId: number): void {
  network.publish({ type: 'accountRoomsForgotten', accountId, time: network.clock.now() });
}

/** SET HISTORY: the founder, an admin of the room, or a server operator chooses who sees the room's past messages. */
export async function setRoomHistory(network: Network, store: RoomStore, session: Session, name: string, history: 'everything' | 'joined' | null): Promise<Channel> {
  const { channel: found, registration: first } = registeredChannel(network, name);
  const check = (registration: RoomRegistration): void => {
    if (registration.roleOf(session.accountId) < Rank.admin && !session.isOper) {
      throw new RoomServiceError(`Only the founder or an admin of ${found.name} can change who sees its history.`);
    }
  };
  check(first);
  return withRoomWrite(network, found.nameFolded, async () => {
    check(stillRegistered(network, found));
    await store.updateRoom(found.nameFolded, { history });
    network.publish({ type: 'roomHistoryChanged', channel: found.nameFolded, history, time: network.clock.now() });
    return found;
  });
}
