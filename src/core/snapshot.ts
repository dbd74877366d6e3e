/**
 * Cluster mode (issue 9): a copy of the network's state as one node has applied it, for a node that joins a network
 * that is running. The joining node has an empty mirror; one live node gives it this (Network.exportState), and it
 * takes it (Network.importState) before it serves anyone. The bus carries it and places it in the stream of events
 * (Bus.bootstrap): the joiner then applies the events the copy does not include yet, each once. Core knows nothing
 * of sequence numbers.
 *
 * What is copied is what every mirror keeps and events change: registered sessions, rooms with their members and
 * prefixes, modes, lists, topic, invitations and registration, the WHOWAS ring and the highest user count. What is
 * each node's own is not (MONITOR lists, nick grace deadlines, send queues, devices). Nicks, account indexes, the
 * nodes of each room and the LUSERS counts are derived on import.
 *
 * Plain JSON data, so it crosses the wire as it is, versioned by `v`: a node refuses another version, as it refuses
 * an envelope of another version (bus/codec.ts). Every field is validated on import (readSnapshot): what comes out
 * becomes this node's mirror, so a malformed copy must stop the start, never leave a hole.
 */
import type { WhowasEntry } from './network.js';

export const SNAPSHOT_VERSION = 1;

export interface SessionSnapshot {
  readonly id: string;
  /** The session's home node (Session.node). */
  readonly node: string;
  /** Other nodes with devices of the session (Session.otherNodes); absent when none. */
  readonly otherNodes?: readonly string[];
  readonly nick: string;
  readonly user: string;
  readonly host: string;
  readonly ip: string;
  readonly realname: string;
  /** UserMode bits. */
  readonly modes: number;
  /** Seconds since the epoch. */
  readonly signonAt: number;
  /** Absent when not logged in. */
  readonly account?: string;
  readonly accountId?: number;
  /** Absent when not away. */
  readonly away?: string;
}

/** One member, compactly (the bulk of a large copy): session id, prefixes bitmask, join time in ms. */
export type MemberSnapshot = readonly [id: string, prefixes: number, joinedAtMs: number];

export interface ListEntrySnapshot {
  readonly mask: string;
  readonly setBy: string;
  /** Seconds since the epoch. */
  readonly setAt: number;
}

export interface ChannelSnapshot {
  readonly name: string;
  readonly nameFolded: string;
  /** Seconds since the epoch. */
  readonly createdAt: number;
  readonly topic: string;
  readonly topicSetBy: string;
  readonly topicSetAt: number;
  readonly modes: {
    readonly noExternal: boolean;
    readonly topicLocked: boolean;
    readonly secret: boolean;
    readonly inviteOnly: boolean;
    readonly moderated: boolean;
    readonly key?: string;
    readonly limit?: number;
  };
  readonly lists: { readonly b: readonly ListEntrySnapshot[]; readonly e: readonly ListEntrySnapshot[]; readonly I: readonly ListEntrySnapshot[] };
  /** Session ids holding an invitation. */
  readonly invited: readonly string[];
  /** Present while the room is registered. */
  readonly registration?: {
    readonly founderId: number;
    readonly founderName: string;
    readonly registeredAt: number;
    readonly history: 'everything' | 'joined' | null;
    /** [accountId, rank, accountName], founder excluded. */
    readonly roles: ReadonlyArray<readonly [accountId: number, rank: number, accountName: string]>;
  };
  /** In the room's order (NAMES shows it). */
  readonly members: readonly MemberSnapshot[];
}

export interface NetworkSnapshot {
  readonly v: typeof SNAPSHOT_VERSION;
  /** Nodes of one network share a casemapping; folded keys mean nothing under another one. */
  readonly casemapping: string;
  /** In the giving node's order. */
  readonly sessions: readonly SessionSnapshot[];
  readonly channels: readonly ChannelSnapshot[];
  readonly whowas: readonly WhowasEntry[];
  readonly maxUsers: number;
}

export class SnapshotError extends Error {
  override readonly name = 'SnapshotError';
}

// ---------------------------------------------------------------------------------------------------------------
// Validation: one small reader per kind of value, each naming the path of what is wrong.

function fail(at: string, expected: string, value: unknown): never {
  const shown = value === undefined ? 'nothing' : JSON.stringify(value).slice(0, 60);
  throw new SnapshotError(`snapshot ${at}: expected ${expected}, got ${shown}`);
}

function record(value: unknown, at: string): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : fail(at, 'an object', value);
}

function array(value: unknown, at: string): readonly unknown[] {
  return Array.isArray(value) ? (value as unknown[]) : fail(at, 'an array', value);
}

function str(value: unknown, at: string): string {
  return typeof value === 'string' ? value : fail(at, 'a string', value);
}

function num(value: unknown, at: string): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : fail(at, 'a finite number', value);
}

function int(value: unknown, at: string): number {
  return Number.isSafeInteger(value) ? (value as number) : fail(at, 'an integer', value);
}

function bool(value: unknown, at: string): boolean {
  return typeof value === 'boolean' ? value : fail(at, 'a boolean', value);
}

/** An optional field: absent (or null) stays absent. */
function optional<K extends string, T>(raw: Record<string, unknown>, key: K, at: string, read: (value: unknown, at: string) => T): { [P in K]?: T } {
  const value = raw[key];
  return value === undefined || value === null ? {} : ({ [key]: read(value, `${at}.${key}`) } as { [P in K]?: T });
}

function readSession(value: unknown, at: string): SessionSnapshot {
  const raw = record(value, at);
  return {
    id: str(raw['id'], `${at}.id`),
    node: str(raw['node'], `${at}.node`),
    ...optional(raw, 'otherNodes', at, (value, where) => {
      if (!Array.isArray(value)) throw new SnapshotError(`${where}: expected a list of node ids`);
      return value.map((item, index) => str(item, `${where}.${String(index)}`));
    }),
    nick: str(raw['nick'], `${at}.nick`),
    user: str(raw['user'], `${at}.user`),
    host: str(raw['host'], `${at}.host`),
    ip: str(raw['ip'], `${at}.ip`),
    realname: str(raw['realname'], `${at}.realname`),
    modes: int(raw['modes'], `${at}.modes`),
    signonAt: num(raw['signonAt'], `${at}.signonAt`),
    ...optional(raw, 'account', at, str),
    ...optional(raw, 'accountId', at, int),
    ...optional(raw, 'away', at, str),
  };
}

function readEntry(value: unknown, at: string): ListEntrySnapshot {
  const raw = record(value, at);
  return { mask: str(raw['mask'], `${at}.mask`), setBy: str(raw['setBy'], `${at}.setBy`), setAt: num(raw['setAt'], `${at}.setAt`) };
}

function readMember(value: unknown, at: string): MemberSnapshot {
  const raw = array(value, at);
  if (raw.length !== 3) fail(at, '[id, prefixes, joinedAtMs]', value);
  return [str(raw[0], `${at}[0]`), int(raw[1], `${at}[1]`), num(raw[2], `${at}[2]`)];
}

function readRegistration(value: unknown, at: string): NonNullable<ChannelSnapshot['registration']> {
  const raw = record(value, at);
  const history = raw['history'];
  if (history !== 'everything' && history !== 'joined' && history !== null) fail(`${at}.history`, '"everything", "joined" or null', history);
  return {
    founderId: int(raw['founderId'], `${at}.founderId`),
    founderName: str(raw['founderName'], `${at}.founderName`),
    registeredAt: num(raw['registeredAt'], `${at}.registeredAt`),
    history,
    roles: array(raw['roles'], `${at}.roles`).map((item, index) => {
      const role = array(item, `${at}.roles[${index}]`);
      if (role.length !== 3) fail(`${at}.roles[${index}]`, '[accountId, rank, accountName]', item);
      return [int(role[0], `${at}.roles[${index}][0]`), int(role[1], `${at}.roles[${index}][1]`), str(role[2], `${at}.roles[${index}][2]`)] as const;
    }),
  };
}

function readChannel(value: unknown, at: string): ChannelSnapshot {
  const raw = record(value, at);
  const modes = record(raw['modes'], `${at}.modes`);
  const lists = record(raw['lists'], `${at}.lists`);
  const entries = (letter: string): ListEntrySnapshot[] =>
    array(lists[letter], `${at}.lists.${letter}`).map((item, index) => readEntry(item, `${at}.lists.${letter}[${index}]`));
  return {
    name: str(raw['name'], `${at}.name`),
    nameFolded: str(raw['nameFolded'], `${at}.nameFolded`),
    createdAt: num(raw['createdAt'], `${at}.createdAt`),
    topic: str(raw['topic'], `${at}.topic`),
    topicSetBy: str(raw['topicSetBy'], `${at}.topicSetBy`),
    topicSetAt: num(raw['topicSetAt'], `${at}.topicSetAt`),
    modes: {
      noExternal: bool(modes['noExternal'], `${at}.modes.noExternal`),
      topicLocked: bool(modes['topicLocked'], `${at}.modes.topicLocked`),
      secret: bool(modes['secret'], `${at}.modes.secret`),
      inviteOnly: bool(modes['inviteOnly'], `${at}.modes.inviteOnly`),
      moderated: bool(modes['moderated'], `${at}.modes.moderated`),
      ...optional(modes, 'key', `${at}.modes`, str),
      ...optional(modes, 'limit', `${at}.modes`, int),
    },
    lists: { b: entries('b'), e: entries('e'), I: entries('I') },
    invited: array(raw['invited'], `${at}.invited`).map((item, index) => str(item, `${at}.invited[${index}]`)),
    ...optional(raw, 'registration', at, readRegistration),
    members: array(raw['members'], `${at}.members`).map((item, index) => readMember(item, `${at}.members[${index}]`)),
  };
}

function readWhowas(value: unknown, at: string): WhowasEntry {
  const raw = record(value, at);
  return {
    nick: str(raw['nick'], `${at}.nick`),
    nickFolded: str(raw['nickFolded'], `${at}.nickFolded`),
    user: str(raw['user'], `${at}.user`),
    host: str(raw['host'], `${at}.host`),
    realname: str(raw['realname'], `${at}.realname`),
    leftAt: num(raw['leftAt'], `${at}.leftAt`),
  };
}

/** Checks a copy that came from another node (parsed JSON) and returns it typed; throws SnapshotError. */
export function readSnapshot(value: unknown): NetworkSnapshot {
  const raw = record(value, 'root');
  if (raw['v'] !== SNAPSHOT_VERSION) throw new SnapshotError(`snapshot version ${JSON.stringify(raw['v'])} is not ${SNAPSHOT_VERSION}`);
  return {
    v: SNAPSHOT_VERSION,
    casemapping: str(raw['casemapping'], 'casemapping'),
    sessions: array(raw['sessions'], 'sessions').map((item, index) => readSession(item, `sessions[${index}]`)),
    channels: array(raw['channels'], 'channels').map((item, index) => readChannel(item, `channels[${index}]`)),
    whowas: array(raw['whowas'], 'whowas').map((item, index) => readWhowas(item, `whowas[${index}]`)),
    maxUsers: int(raw['maxUsers'], 'maxUsers'),
  };
}
