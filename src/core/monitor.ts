/**
 * MONITOR (ircv3.net/specs/extensions/monitor) and extended-monitor: which local sessions watch which nicks.
 *
 * The registry is touched by the MONITOR command and by the few events that change who is online or what a watched
 * user looks like (sign on, sign off, nick, away, account, realname, host), never by messages: watching costs nothing
 * per PRIVMSG. A session's list belongs to the user (shared by its devices) and goes when the user quits. Only this
 * node's sessions are watchers (MONITOR runs where the connection is), while every node applies every event, so each
 * node tells its own watchers.
 */
import { Cap } from '../protocol/caps.js';
import * as N from '../protocol/numerics.js';
import { Outbound } from './outbound.js';
import type { Session } from './session.js';

/** Modern IRC "Message format": 512 bytes with the CRLF. */
const MAX_LINE_BYTES = 510;

const encoder = new TextEncoder();

function byteLength(text: string): number {
  return encoder.encode(text).length;
}

/**
 * Comma-joined groups of `items`, each group short enough that `head` + group + `tail` fits one line (the monitor
 * spec: "the length of the target list is limited only by the buffer size of 512 chars").
 */
export function packTargets(items: readonly string[], head: string, tail = ''): string[] {
  const budget = MAX_LINE_BYTES - byteLength(head) - byteLength(tail);
  const groups: string[] = [];
  let group = '';
  let size = 0;
  for (const item of items) {
    const length = byteLength(item);
    if (group !== '' && size + 1 + length > budget) {
      groups.push(group);
      group = '';
      size = 0;
    }
    group = group === '' ? item : `${group},${item}`;
    size += (size === 0 ? 0 : 1) + length;
  }
  if (group !== '') groups.push(group);
  return groups;
}

export class MonitorRegistry {
  /** Casefolded nick -> the sessions watching it. */
  private readonly watchers = new Map<string, Set<Session>>();
  /** Session -> its list: casefolded nick -> the nick as the client wrote it. */
  private readonly lists = new Map<Session, Map<string, string>>();

  /** The session's list (casefolded -> as written), in the order the entries were added. */
  listOf(session: Session): ReadonlyMap<string, string> {
    return this.lists.get(session) ?? EMPTY;
  }

  has(session: Session, folded: string): boolean {
    return this.lists.get(session)?.has(folded) === true;
  }

  /** Adds one entry; false when it was there already (monitor: "Targets already in the list MUST NOT be added again"). */
  add(session: Session, folded: string, nick: string): boolean {
    let list = this.lists.get(session);
    if (list === undefined) {
      list = new Map();
      this.lists.set(session, list);
    }
    if (list.has(folded)) return false;
    list.set(folded, nick);
    let sessions = this.watchers.get(folded);
    if (sessions === undefined) {
      sessions = new Set();
      this.watchers.set(folded, sessions);
    }
    sessions.add(session);
    return true;
  }

  remove(session: Session, folded: string): void {
    const list = this.lists.get(session);
    if (list?.delete(folded) !== true) return;
    if (list.size === 0) this.lists.delete(session);
    this.unwatch(session, folded);
  }

  /** MONITOR C, and a watcher's quit: the whole list goes. */
  clear(session: Session): void {
    const list = this.lists.get(session);
    if (list === undefined) return;
    this.lists.delete(session);
    for (const folded of list.keys()) this.unwatch(session, folded);
  }

  /** How many sessions watch a nick (casefolded). */
  watcherCount(folded: string): number {
    return this.watchers.get(folded)?.size ?? 0;
  }

  /** 730 RPL_MONONLINE to the watchers of `session`'s nick: it has just signed on or taken this nick. */
  signedOn(session: Session, serverName: string, time: number): void {
    const watchers = this.watchers.get(session.nickFolded);
    if (watchers === undefined) return;
    for (const watcher of watchers) {
      if (watcher.isLocal) watcher.send(new Outbound(serverName, N.RPL_MONONLINE, [watcher.nick, session.prefix], time));
    }
  }

  /** 731 RPL_MONOFFLINE to the watchers of a nick (casefolded) that has just signed off or been left for another. */
  signedOff(nick: string, folded: string, serverName: string, time: number): void {
    const watchers = this.watchers.get(folded);
    if (watchers === undefined) return;
    for (const watcher of watchers) {
      if (watcher.isLocal) watcher.send(new Outbound(serverName, N.RPL_MONOFFLINE, [watcher.nick, nick], time));
    }
  }

  /**
   * A nick change is the old nick going offline and the new one coming online, for their watchers. A change of case
   * only (alice -> Alice) is the same nick, which stays online: its watchers get 730 with the new spelling alone.
   */
  nickChanged(session: Session, oldNick: string, oldFolded: string, serverName: string, time: number): void {
    if (oldFolded !== session.nickFolded) this.signedOff(oldNick, oldFolded, serverName, time);
    this.signedOn(session, serverName, time);
  }

  /**
   * extended-monitor: `message` (AWAY, ACCOUNT, SETNAME, CHGHOST about `session`) to the devices of its watchers
   * that enabled both extended-monitor and `requiredCap`. Watchers already reached through a shared room carry
   * `mark` (Network.sendToChannelPeers) and are skipped, so nobody gets it twice.
   */
  notify(session: Session, message: Outbound, mark: number, requiredCap: number): void {
    const watchers = this.watchers.get(session.nickFolded);
    if (watchers === undefined) return;
    const needs = requiredCap | Cap.extendedMonitor;
    for (const watcher of watchers) {
      if (watcher.deliveryMark === mark) continue;
      watcher.deliveryMark = mark;
      for (const device of watcher.devices) if ((device.caps & needs) === needs) device.link.send(message);
    }
  }

  private unwatch(session: Session, folded: string): void {
    const sessions = this.watchers.get(folded);
    if (sessions === undefined) return;
    sessions.delete(session);
    if (sessions.size === 0) this.watchers.delete(folded);
  }
}

const EMPTY: ReadonlyMap<string, string> = new Map();
