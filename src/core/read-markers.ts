/**
 * draft/read-marker (MARKREAD <target> [timestamp=...]): per account and target, the time of the last message the
 * user has read, kept by the store (ReadMarkerStore) and shared by every connection of the account. Only for
 * logged-in users: a guest has nothing to keep it under.
 *
 * A target's key is its casefolded name: a room's ("#chat"), or for a private conversation the other party's nick
 * ("bob"). So the marker of a conversation follows the nick, not the other party's account.
 */
import type { ReadMarkerStore } from './history.js';
import type { Network } from './network.js';
import { isValidChannelName } from './rooms.js';
import { isValidNick } from './users.js';

/** The store key of a MARKREAD target, or undefined when it is neither a room name nor a nick. */
export function readMarkerKey(network: Network, target: string): string | undefined {
  const { limits } = network.settings;
  const valid = target.startsWith('#') ? isValidChannelName(target, limits.channelLength) : isValidNick(target, limits.nickLength);
  return valid ? network.fold(target) : undefined;
}

// server-time's format exactly: YYYY-MM-DDThh:mm:ss.sssZ.
const TIMESTAMP = /^timestamp=(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)$/;

/** Milliseconds since the epoch from "timestamp=YYYY-MM-DDThh:mm:ss.sssZ", or undefined when it is not one. */
export function parseMarkerTimestamp(param: string): number | undefined {
  const match = TIMESTAMP.exec(param);
  if (match === null) return undefined;
  const time = Date.parse(match[1] ?? '');
  // Date.parse rolls some impossible dates over (Feb 30): only a value that prints back the same is taken.
  if (!Number.isFinite(time) || time < 0 || new Date(time).toISOString() !== match[1]) return undefined;
  return time;
}

/** The MARKREAD parameter for a stored marker: "timestamp=..." or "*" when none was ever set. */
export function formatMarker(time: number | undefined): string {
  return time === undefined ? '*' : `timestamp=${new Date(time).toISOString()}`;
}

/**
 * Moves the account's marker for `key` forward to `time` (a time in the future counts as now) and tells the
 * account's other connections; an older or equal time changes nothing. Resolves with the marker now stored,
 * which is what the connection that asked is answered with.
 */
export async function moveReadMarker(
  network: Network,
  store: ReadMarkerStore,
  accountId: number,
  device: string | undefined,
  target: string,
  key: string,
  time: number,
): Promise<number> {
  const wanted = Math.min(time, network.clock.now());
  const previous = await store.getReadMarker(accountId, key);
  if (previous !== undefined && wanted <= previous) return previous;
  const stored = await store.setReadMarker(accountId, key, wanted);
  // A later marker stored meanwhile by another connection was announced by that one.
  if (stored === wanted) network.publish({ type: 'readMarkerMoved', accountId, target, marker: stored, device, time: network.clock.now() });
  return stored;
}
