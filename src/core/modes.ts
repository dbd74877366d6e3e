/** Channel MODE: parsing a mode string against CHANMODES and checking each change against the actor's rank. */
import { rankByLetter } from './channel.js';
import type { Channel, ListMode } from './channel.js';
import { ChatError } from './errors.js';
import type { ModeChange } from './events.js';
import type { Network } from './network.js';
import { normalizeMask } from '../protocol/mask.js';
import { actingRank, maySetChannelMode, maySetRank } from './permissions.js';
import type { Session } from './session.js';

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
  network.publish({ type: 'channelModeChanged', by: session.prefix, channel: channel.nameFolded, changes, time: network.clock.now() });
}

